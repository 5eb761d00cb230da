/**
 * What the services answer is what the wire contract (src/contract) says the routes send:
 * each line compiles only while a service's view type is assignable to the contract's type,
 * so a field added to a view but not to its schema (Fastify would silently drop it from the
 * reply) fails the type check. Checked by `npm run typecheck`; the test only runs the lines.
 */
import { expect, it } from 'vitest';
import type * as wire from '../contract/index.js';
import type { TokenView } from '../auth/tokens.js';
import type { ImageInfo } from '../images/catalog.js';
import type { PeerView } from '../migration/peers.js';
import type { NetworkView } from '../network/service.js';
import type { OperationRecord } from '../operations/service.js';
import type { ProjectView } from '../projects/service.js';
import type { SnapshotView } from '../snapshots/service.js';
import type { PoolView, VolumeRecord } from '../storage/service.js';
import type { AuditEntry, HangarEvent } from '../store/store.js';
import type { VmView } from '../vm/service.js';

const conformance = {
  vm: (v: VmView): wire.Vm => v,
  pool: (v: PoolView): wire.Pool => v,
  volume: (v: VolumeRecord): wire.Volume => v,
  operation: (v: OperationRecord): wire.Operation => v,
  snapshot: (v: SnapshotView): wire.Snapshot => v,
  network: (v: NetworkView): wire.Network => v,
  project: (v: ProjectView): wire.Project => v,
  image: (v: ImageInfo): wire.Image => v,
  peer: (v: PeerView): wire.Peer => v,
  token: (v: TokenView): wire.Token => v,
  event: (v: HangarEvent): wire.Event => v,
  audit: (v: AuditEntry): wire.AuditEntry => v,
};

it('services answer in the contract’s types (a type check; see the header)', () => {
  expect(Object.keys(conformance)).toHaveLength(12);
});
