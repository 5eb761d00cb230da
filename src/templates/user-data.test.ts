import { describe, expect, it } from 'vitest';
import { USER_DATA_PROGRAM, userDataExec } from './user-data.js';

describe('warm clone user data', () => {
  it('a #! script runs as it is, its text on stdin', () => {
    const r = userDataExec('#!/bin/sh\necho hi\n');
    expect(r.argv).toEqual(['sh', '-c', USER_DATA_PROGRAM, 'hangar-user-data']);
    expect(r.input).toBe('#!/bin/sh\necho hi\n');
    expect(r.modules).toEqual([]);
  });

  it('#cloud-config: the modules of its keys, once each, in cloud-init\'s order', () => {
    const r = userDataExec('#cloud-config\nruncmd:\n  - echo x\nwrite_files:\n  - path: /a\n    content: b\nusers: [default]\ngroups: [g]\n');
    expect(r.modules).toEqual(['write_files', 'users_groups', 'runcmd', 'scripts_user']);
    expect(r.argv.slice(4)).toEqual(r.modules);
    expect(userDataExec('#cloud-config\n').modules).toEqual([]);
  });

  it('refuses what a clone cannot apply, with the field named', () => {
    const code = (f: () => unknown) => {
      try {
        f();
        return 'none';
      } catch (e) {
        return `${(e as { code: string }).code} ${(e as Error).message}`;
      }
    };
    expect(code(() => userDataExec('#cloud-config\ngrowpart: {mode: auto}\nruncmd: [ls]\n'))).toMatch(/^INVALID_SPEC .*"growpart"/);
    expect(code(() => userDataExec('just text'))).toMatch(/^INVALID_SPEC .*#cloud-config/);
    expect(code(() => userDataExec('#cloud-config\n- a\n- b\n'))).toMatch(/^INVALID_SPEC .*mapping/);
    expect(code(() => userDataExec('#cloud-config\na: [\n'))).toMatch(/^INVALID_SPEC .*YAML/);
    expect(code(() => userDataExec(`#!/bin/sh\n${'x'.repeat(70_000)}`))).toMatch(/^INVALID_SPEC .*KiB/);
    expect(code(() => userDataExec(''))).toMatch(/^INVALID_SPEC/);
  });
});
