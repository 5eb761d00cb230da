import { describe, expect, it } from 'vitest';
import { checkCreateInput } from './create-input.js';

describe('the image of a new VM', () => {
  it('is tiny by default, none with an ISO or a boot order naming the network, the given one otherwise', () => {
    expect(checkCreateInput({ name: 'a' }).imageName).toBe('tiny');
    expect(checkCreateInput({ name: 'a', iso: 'inst' }).imageName).toBeUndefined();
    expect(checkCreateInput({ name: 'a', boot: ['network,disk'] }).imageName).toBeUndefined();
    expect(checkCreateInput({ name: 'a', boot: ['disk', ' Network '] }).imageName).toBeUndefined();
    expect(checkCreateInput({ name: 'a', boot: ['disk'] }).imageName).toBe('tiny');
    expect(checkCreateInput({ name: 'a', image: 'debian-12', boot: ['network'] }).imageName).toBe('debian-12');
  });
});
