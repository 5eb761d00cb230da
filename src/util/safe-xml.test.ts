import { describe, expect, it } from 'vitest';
import { attr, parseXml } from './safe-xml.js';

describe('parseXml', () => {
  it('reads elements, prefixed attributes, text, CDATA and character references', () => {
    const r = parseXml('<?xml version="1.0"?>\n<!-- c --><a:Root xmlns:a="u" a:id=\'x &amp; y\' b="1>2"><b>t&#x41;&#66;<![CDATA[<raw>]]></b><c/></a:Root>');
    expect(r.local).toBe('Root');
    expect(attr(r, 'id')).toBe('x & y');
    expect(attr(r, 'b')).toBe('1>2');
    expect(r.children.map((c) => [c.local, c.text])).toEqual([['b', 'tAB<raw>'], ['c', '']]);
  });

  it('refuses DTDs, entities, mismatched tags, depth and size', () => {
    expect(() => parseXml('<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>')).toThrow(/DOCTYPE/);
    expect(() => parseXml('<a><!ENTITY x "y"></a>')).toThrow(/ENTITY/);
    expect(() => parseXml('<a>&x;</a>')).toThrow(/entity/);
    expect(() => parseXml('<a>& b</a>')).toThrow(/&/);
    expect(() => parseXml('<a><b></a></b>')).toThrow(/does not match/);
    expect(() => parseXml('<a/><b/>')).toThrow(/second root/);
    expect(() => parseXml('<a>')).toThrow(/not closed/);
    expect(() => parseXml('<a>'.repeat(100) + '</a>'.repeat(100))).toThrow(/deeper/);
    expect(() => parseXml(`<a>${'x'.repeat(100)}</a>`, { maxBytes: 50 })).toThrow(/larger/);
    expect(() => parseXml('<a b="1" b="2"/>')).toThrow(/twice/);
  });
});
