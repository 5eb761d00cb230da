/**
 * The API changes by additions only: docs/openapi.json (what the daemon serves, pinned by
 * src/api/openapi.test.ts) must keep everything docs/openapi.baseline.json has. The
 * baseline is only ever moved forward, on purpose, when a release may break clients:
 * cp docs/openapi.json docs/openapi.baseline.json
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { breakingChanges, type OpenApiDocument } from './compat.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const read = (file: string) => JSON.parse(readFileSync(join(DOCS, file), 'utf8')) as OpenApiDocument;

it('docs/openapi.json only adds to docs/openapi.baseline.json', () => {
  expect(breakingChanges(read('openapi.baseline.json'), read('openapi.json'))).toEqual([]);
});

describe('breakingChanges', () => {
  const base = (): OpenApiDocument => ({
    components: {
      schemas: {
        Vm: {
          type: 'object', required: ['name', 'state'],
          properties: {
            name: { type: 'string' },
            state: { anyOf: [{ type: 'string', enum: ['stopped'] }, { type: 'string', enum: ['running'] }] },
            disks: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } } } },
            pid: { type: 'integer', nullable: true },
          },
        },
      },
    },
    paths: {
      '/v1/vms/{name}': {
        get: {
          parameters: [{ in: 'path', name: 'name', required: true, schema: { type: 'string' } }, { in: 'query', name: 'wait', schema: { type: 'string' } }],
          responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Vm' } } } }, 404: {} },
        },
        patch: {
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['cpus'], properties: { cpus: { type: 'integer' }, memory: { type: 'string', enum: ['1G', '2G'] } } } } } },
          responses: { 200: {} },
        },
      },
    },
  });
  const changed = (edit: (d: OpenApiDocument) => void) => {
    const d = base();
    edit(d);
    return breakingChanges(base(), d);
  };
  type AnyRecord = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const vm = (d: OpenApiDocument) => d.components!.schemas!.Vm as AnyRecord;
  const paths = (d: OpenApiDocument) => d.paths as AnyRecord;

  it('accepts the same document, and additions of every kind', () => {
    expect(breakingChanges(base(), base())).toEqual([]);
    expect(changed((d) => {
      d.components!.schemas!.Peer = { type: 'object' };
      vm(d).properties.spice = { type: 'boolean' };
      vm(d).required.push('spice');
      vm(d).properties.state.anyOf.push({ type: 'string', enum: ['paused'] });
      paths(d)['/v1/vms'] = { get: {} };
      paths(d)['/v1/vms/{name}'].delete = {};
      paths(d)['/v1/vms/{name}'].get.responses[409] = {};
      paths(d)['/v1/vms/{name}'].get.parameters.push({ in: 'query', name: 'fields', schema: { type: 'string' } });
      paths(d)['/v1/vms/{name}'].patch.requestBody.content['application/json'].schema.properties.memory.enum.push('4G');
      paths(d)['/v1/vms/{name}'].patch.requestBody.content['application/json'].schema.required = [];
    })).toEqual([]);
  });

  it('finds what was removed', () => {
    expect(changed((d) => delete d.paths!['/v1/vms/{name}'])).toEqual(['/v1/vms/{name}: removed']);
    expect(changed((d) => delete paths(d)['/v1/vms/{name}'].patch)).toEqual(['PATCH /v1/vms/{name}: removed']);
    expect(changed((d) => delete paths(d)['/v1/vms/{name}'].get.responses[404])).toEqual(['GET /v1/vms/{name} response 404: removed']);
    expect(changed((d) => paths(d)['/v1/vms/{name}'].get.parameters.pop())).toEqual(['GET /v1/vms/{name} parameter query wait: removed']);
    expect(changed((d) => delete d.components!.schemas!.Vm)).toEqual(['components.schemas.Vm: removed']);
    expect(changed((d) => delete vm(d).properties.disks)).toEqual(['components.schemas.Vm.disks: removed']);
    expect(changed((d) => delete vm(d).properties.disks.items.properties.id)).toEqual(['components.schemas.Vm.disks[].id: removed']);
    expect(changed((d) => vm(d).properties.state.anyOf.pop())).toEqual(['components.schemas.Vm.state.anyOf[1]: removed or changed (string ["running"])']);
    expect(changed((d) => paths(d)['/v1/vms/{name}'].patch.requestBody.content['application/json'].schema.properties.memory.enum.pop()))
      .toEqual(['PATCH /v1/vms/{name} request body application/json.memory: enum value "2G" removed']);
  });

  it('finds what changed type or promise', () => {
    expect(changed((d) => (vm(d).properties.name.type = 'integer'))).toEqual(['components.schemas.Vm.name: type was string, now integer']);
    expect(changed((d) => (vm(d).properties.pid.nullable = false))).toEqual(['components.schemas.Vm.pid: no longer nullable']);
    expect(changed((d) => (paths(d)['/v1/vms/{name}'].get.responses[200].content['application/json'].schema = { $ref: '#/components/schemas/Other' })))
      .toEqual(['GET /v1/vms/{name} response 200 application/json: was #/components/schemas/Vm, now #/components/schemas/Other']);
    expect(changed((d) => (vm(d).required = ['name']))).toEqual(['components.schemas.Vm.state: no longer always present']);
    expect(changed((d) => paths(d)['/v1/vms/{name}'].patch.requestBody.content['application/json'].schema.required.push('memory')))
      .toEqual(['PATCH /v1/vms/{name} request body application/json.memory: now required']);
    expect(changed((d) => (paths(d)['/v1/vms/{name}'].get.parameters[1].required = true))).toEqual(['GET /v1/vms/{name} parameter query wait: now required']);
    expect(changed((d) => paths(d)['/v1/vms/{name}'].get.parameters.push({ in: 'query', name: 'x', required: true }))).toEqual(['GET /v1/vms/{name} parameter query x: added as required']);
  });
});
