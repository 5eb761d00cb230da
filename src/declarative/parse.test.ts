import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { parseDeclarative } from './parse.js';

function refusal(text: string): { code: string; message: string; problems: { line: number; message: string }[] } {
  try {
    parseDeclarative(text, 'app.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(HangarError);
    const he = e as HangarError;
    return { code: he.code, message: he.message, problems: he.details!.problems as { line: number; message: string }[] };
  }
  throw new Error('not refused');
}

const GOOD = `kind: Network
name: lan
subnet: 10.77.0.0/24
nat: true
---
kind: VM
name: web1
cpus: 2
memory: 256M
networks: [lan]
volumes: [data1, fast/logs]
labels:
  tier: web
cloudInit:
  hostname: web1
  sshKeys: ["ssh-ed25519 AAAA x"]
`;

describe('parseDeclarative', () => {
  it('reads documents with their fields as written and in canonical form, and where each is', () => {
    const [net, vm] = parseDeclarative(GOOD, 'app.yaml');
    expect(net).toMatchObject({ kind: 'Network', name: 'lan', raw: { subnet: '10.77.0.0/24', nat: true }, where: { file: 'app.yaml', line: 1 } });
    expect(vm!.raw).toMatchObject({ cpus: 2, memory: '256M', networks: ['lan'] });
    expect(vm!.fields).toMatchObject({ memory: 256, volumes: ['default/data1', 'fast/logs'], labels: { tier: 'web' }, cloudInit: { format: 'nocloud', hostname: 'web1' } });
    expect(vm!.where.line).toBe(6);
    expect(vm!.where.fieldLines.memory).toBe(9);
  });

  it('reads one document holding a list of resources, and skips empty documents', () => {
    const out = parseDeclarative('---\n---\n- kind: Project\n  name: web\n  maxVms: 3\n- kind: Volume\n  name: d1\n  size: 64M\n', 'l.yaml');
    expect(out.map((d) => `${d.kind}/${d.name}@${d.where.line}`)).toEqual(['Project/web@3', 'Volume/d1@6']);
    expect(out[1]!.fields.size).toBe(64 * 2 ** 20);
  });

  it('refuses an unknown field with its line and the known fields', () => {
    const r = refusal('kind: VM\nname: web1\ncpus: 1\nmemroy: 256M\n');
    expect(r.code).toBe('APPLY_INVALID');
    expect(r.problems).toEqual([{ file: 'app.yaml', line: 4, message: expect.stringContaining('VM "web1": field "memroy" is not known') }]);
    expect(r.message).toContain('app.yaml:4: VM "web1": field "memroy" is not known; VM fields are project, profiles, type, image');
    expect(r.message).toContain('nothing was changed');
  });

  it('refuses a wrong type with its line', () => {
    const r = refusal('kind: VM\nname: web1\ncpus: two\n');
    expect(r.message).toContain('app.yaml:3: VM "web1": field "cpus" must be a whole number, not string "two"');
    expect(refusal('kind: VM\nname: a\nlabels:\n  tier: web\n  rev: 3\n').message).toContain('app.yaml:5: VM "a": field "labels.rev" must be a string, not number 3');
    expect(refusal('kind: VM\nname: a\nnetworks: lan\n').message).toContain('app.yaml:3: VM "a": field "networks" must be a list of strings');
    expect(refusal('kind: VM\nname: a\nstate: up\n').message).toContain('field "state" must be one of running, stopped, not string "up"');
  });

  it('refuses bad values (sizes, names) and nested unknown fields with their lines', () => {
    expect(refusal('kind: VM\nname: a\nmemory: lots\n').message).toContain('app.yaml:3: VM "a": field "memory": Memory "lots" is not a size');
    expect(refusal('kind: VM\nname: 9bad\n').message).toContain('app.yaml:2: VM "9bad": field "name"');
    expect(refusal('kind: VM\nname: a\ncloudInit:\n  hostname: a\n  pasword: x\n').message).toContain('app.yaml:5: VM "a": field "cloudInit.pasword" is not known');
  });

  it('lists every problem at once, across documents', () => {
    const r = refusal('kind: VM\nname: a\ncpus: x\n---\nkind: Netwrk\nname: n\n---\nkind: VM\nname: a\n');
    expect(r.problems.map((p) => p.line)).toEqual([3, 5, 8]);
    expect(r.message).toContain('3 problems');
    expect(r.message).toContain('app.yaml:8: VM "a" is declared twice (first on line 1)');
  });

  it('refuses YAML that does not parse, with its line', () => {
    const r = refusal('kind: VM\nname: a\ncpus: [1\nmemory: 2\n');
    expect(r.code).toBe('APPLY_INVALID');
    expect(r.message).toMatch(/app\.yaml:\d+: not valid YAML/);
  });

  it('refuses YAML aliases inside a resource instead of expanding them', () => {
    const r = refusal('kind: VM\nname: a\nlabels: &l {x: y}\n---\nkind: VM\nname: b\nlabels: *l\n');
    expect(r.message).toContain('app.yaml:7: VM "b": field "labels": YAML aliases (*l) are not supported here');
  });

  it('reads profiles: settings checked one by one with their lines, canonical like the VM\'s fields', () => {
    const [p, v] = parseDeclarative('kind: Profile\nname: web\nsettings:\n  memory: 1G\n  labels: {tier: web}\n  nicModel: e1000e\n---\nkind: VM\nname: a\nprofiles: [web, big]\n', 'app.yaml');
    expect(p!.fields).toEqual({ settings: { labels: { tier: 'web' }, memory: 1024, nicModel: 'e1000e' } });
    expect(v!.fields.profiles).toEqual(['web', 'big']);
    expect(refusal('kind: Profile\nname: web\nsettings:\n  memory: 1G\n  colour: red\n').message).toContain('app.yaml:5: Profile "web": field "settings.colour" is not known');
    expect(refusal('kind: Profile\nname: web\nsettings:\n  memory: lots\n').message).toContain('app.yaml:4: Profile "web": field "settings"');
    expect(refusal('kind: Profile\nname: web\nsettings:\n  nicModel: ne2k\n').message).toContain('app.yaml:4: Profile "web": field "settings.nicModel" must be one of virtio, e1000e, rtl8139');
  });
});
