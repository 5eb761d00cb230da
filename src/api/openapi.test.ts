/**
 * docs/openapi.json is the API contract; it must be exactly what the code serves.
 * After a deliberate API change: UPDATE_GOLDEN=1 npx vitest run src/api/openapi.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildApi, type ApiDeps } from './server.js';

const DOC = join(import.meta.dirname, '..', '..', 'docs', 'openapi.json');

export async function renderOpenApi(): Promise<string> {
  // Route handlers are never called here: only the schemas are rendered.
  const app = await buildApi({ version: '0.1.0', caps: { kvmUsable: false, defaultAccel: 'tcg' }, host: { cpus: 1, memoryMiB: 1 } } as unknown as ApiDeps);
  await app.ready();
  const doc = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close();
  return doc;
}

it('docs/openapi.json matches the served document', async () => {
  const doc = await renderOpenApi();
  if (process.env.UPDATE_GOLDEN) writeFileSync(DOC, doc);
  expect(doc).toBe(readFileSync(DOC, 'utf8'));
});

it('documents every route and the error catalogue', async () => {
  const doc = JSON.parse(await renderOpenApi()) as { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
  expect(Object.keys(doc.paths).sort()).toEqual([
    '/metrics', '/v1/audit', '/v1/backup-repos', '/v1/backup-repos/{repo}', '/v1/backup-repos/{repo}/gc', '/v1/backup-repos/{repo}/verify', '/v1/backup-schedules', '/v1/backup-schedules/{vm}', '/v1/backups', '/v1/backups/prune', '/v1/backups/{id}/restore', '/v1/cluster', '/v1/cluster/init', '/v1/cluster/join', '/v1/cluster/join-tokens', '/v1/cluster/moves/check', '/v1/cluster/moves/incoming', '/v1/cluster/moves/incoming/{id}', '/v1/cluster/moves/incoming/{id}/finish', '/v1/cluster/placement', '/v1/events', '/v1/groups', '/v1/groups/{group}', '/v1/groups/{group}/members', '/v1/groups/{group}/members/{vm}', '/v1/hooks', '/v1/hooks/{name}', '/v1/host', '/v1/host/shutdown-guests', '/v1/host/start-guests', '/v1/images', '/v1/images/{name}', '/v1/import/libvirt', '/v1/import/ovf', '/v1/instance-types', '/v1/migrations/incoming', '/v1/migrations/incoming/{id}', '/v1/migrations/incoming/{id}/finish', '/v1/networks', '/v1/networks/{name}', '/v1/nodes', '/v1/nodes/{node}', '/v1/nodes/{node}/evacuate', '/v1/nodes/{node}/restore', '/v1/operations', '/v1/operations/{id}', '/v1/peers', '/v1/peers/{name}', '/v1/pools', '/v1/pools/{pool}', '/v1/profiles', '/v1/profiles/{name}', '/v1/projects', '/v1/projects/{name}', '/v1/templates', '/v1/templates/{name}', '/v1/templates/{name}/clones', '/v1/tokens', '/v1/tokens/{token}',
    '/v1/vms', '/v1/vms/import', '/v1/vms/{name}', '/v1/vms/{name}/backups', '/v1/vms/{name}/clone', '/v1/vms/{name}/console-tokens', '/v1/vms/{name}/discard-save', '/v1/vms/{name}/disks', '/v1/vms/{name}/disks/{volume}', '/v1/vms/{name}/exec', '/v1/vms/{name}/export',
    '/v1/vms/{name}/guest', '/v1/vms/{name}/image', '/v1/vms/{name}/logs', '/v1/vms/{name}/media/eject', '/v1/vms/{name}/media/insert', '/v1/vms/{name}/metrics', '/v1/vms/{name}/migrate',
    '/v1/vms/{name}/nics', '/v1/vms/{name}/nics/{nic}', '/v1/vms/{name}/nvram/reset', '/v1/vms/{name}/pause', '/v1/vms/{name}/rename', '/v1/vms/{name}/restart', '/v1/vms/{name}/resume',
    '/v1/vms/{name}/save', '/v1/vms/{name}/snapshots', '/v1/vms/{name}/snapshots/{snapshot}',
    '/v1/vms/{name}/snapshots/{snapshot}/revert', '/v1/vms/{name}/spice.vv', '/v1/vms/{name}/start', '/v1/vms/{name}/stop',
    '/v1/volumes', '/v1/volumes/{pool}/{name}', '/v1/volumes/{pool}/{name}/clone', '/v1/volumes/{pool}/{name}/resize',
  ]);
  expect(JSON.stringify(doc.components.schemas)).toContain('VM_BUSY');
});

it('gives every operation a unique, stable operationId and a documented error answer', async () => {
  const doc = JSON.parse(await renderOpenApi()) as { paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>> };
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, ...op })));
  const ids = ops.map((o) => o.operationId);
  expect(ops.filter((o) => !o.operationId).map((o) => o.at)).toEqual([]);
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
  expect(ops.filter((o) => !Object.keys(o.responses ?? {}).some((k) => /^[45]|^default$/.test(k))).map((o) => o.at)).toEqual([]);
  // Names once given stay: a few pinned.
  expect(doc.paths['/v1/vms']!.get!.operationId).toBe('listVms');
  expect(doc.paths['/v1/vms/{name}/start']!.post!.operationId).toBe('startVm');
  expect(doc.paths['/v1/volumes/{pool}/{name}/resize']!.post!.operationId).toBe('resizeVolume');
});
