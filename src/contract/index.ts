/**
 * The wire contract: what crosses the API, defined once as TypeBox schemas. The server
 * validates with them and renders them into the OpenAPI document (docs/openapi.json, from
 * which the web UI's types are generated); services return their static types; the client
 * (src/client) is typed by them. Each schema has a same-named type, e.g. `Vm` is both the
 * schema and `Static<typeof Vm>`.
 *
 * Layer: imports only src/model, src/errors, src/policy and TypeBox.
 */
export * from './audit.js';
export * from './backups.js';
export * from './clone.js';
export * from './cluster.js';
export * from './consoles.js';
export * from './errors.js';
export * from './events.js';
export * from './groups.js';
export * from './hooks.js';
export * from './host.js';
export * from './host-guests.js';
export * from './images.js';
export * from './libvirt.js';
export * from './media.js';
export * from './metrics.js';
export * from './migration.js';
export * from './networks.js';
export * from './operations.js';
export * from './ovf.js';
export * from './projects.js';
export * from './profiles.js';
export * from './snapshots.js';
export * from './storage.js';
export * from './templates.js';
export * from './tokens.js';
export * from './vms.js';
