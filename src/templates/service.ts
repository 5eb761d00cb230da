/**
 * Warm templates and clones (issue 20).
 *
 * `template create NAME --from-vm VM`: VM runs with file-backed shared memory
 * (`memoryBacking: 'file'`), its agent answers and cloud-init is done. It is paused, its
 * device state saved through the migration stream with `x-ignore-shared` (RAM stays in the
 * shared file; the state is a few hundred KiB), its memory file and disks copied (sparse,
 * reflinked where the file system can) into `<data-dir>/templates/<name>/`, and it goes on.
 *
 * `vm create NAME --from-template T [--count N]`: each clone's QEMU maps the template's
 * memory file privately (copy-on-write: the clones share the template's pages in the page
 * cache until they write them), loads the template's device state (`-incoming defer`),
 * runs on qcow2 overlays of the template's disks, with its NIC links down; then it takes its
 * own identity through the guest agent (identity.ts), its links come up, its DHCP lease is
 * renewed, and only then is it reported ready. Afterwards it is an ordinary VM (a cold
 * start gives it file-backed memory of its own).
 *
 * Files of a template (root's): memory.ram (0600; lent to a clone's QEMU user while it
 * starts), state.bin, <disk>.qcow2 (read-only bases, readable by guests).
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { VmSpec } from '../model/spec.js';
import { validateVmName } from '../model/validate.js';
import { applyMigrationParams, SAVE_DEFAULTS } from '../migration/params.js';
import { feedSave, SaveSink } from '../migration/stream.js';
import { watchMigration } from '../migration/watch.js';
import type { QmpClient } from '../qmp/index.js';
import { writeQcow2Overlay } from '../storage/qcow2-overlay.js';
import type { StorageService, VolumeRecord } from '../storage/service.js';
import type { Collection, Store, VmRecord } from '../store/store.js';
import { cloneSpec, cloneVolumeName } from '../vm/clone.js';
import type { VmService, VmView } from '../vm/service.js';
import { identityExec, planCloneIdentity } from './identity.js';
import { WarmJournal, type JournalClone } from './journal.js';
import { userDataExec } from './user-data.js';
import { recoverWarmJobs, undoClones, type CleanupDeps } from './recover.js';

const run = promisify(execFile);

export interface TemplateRecord {
  name: string;
  sourceVm: string;
  sourceVmId: string;
  createdAt: string;
  dir: string;
  memoryFile: string;
  stateFile: string;
  /** The source's spec at that instant (the clones' hardware). */
  spec: VmSpec;
  disks: Array<{ id: string; path: string; format: 'qcow2' | 'raw'; sizeBytes: number }>;
  memoryBytes: number;
  stateBytes: number;
  pauseMs: number;
}

export interface TemplateView {
  name: string;
  sourceVm: string;
  createdAt: string;
  cpus: number;
  memory: number;
  image?: string;
  disks: Array<{ id: string; sizeBytes: number }>;
  memoryBytes: number;
  stateBytes: number;
  pauseMs: number;
  clones: string[];
}

export interface WarmCloneTiming {
  vm: string;
  createdMs: number;
  qemuMs: number;
  runningMs: number;
  identityMs: number;
  readyMs: number;
  steps: string[];
}

export interface TemplateDeps {
  store: Store;
  vms: VmService;
  storage: StorageService;
  events: Pick<EventBus, 'publish'>;
  dataDir: string;
  /** Where file-backed guest RAM lives (the VM service's memoryRoot). */
  memoryRoot: string;
  /** Tap names for clones' NICs on managed networks. */
  tapFor?: (vmId: string, nicId: string) => string;
  log?: (msg: string) => void;
}

const TEMPLATE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;
/** Under emulation, twenty clones' first runs share two cores: the agent and the identity step get minutes. */
const AGENT_WAIT_MS = 120_000;
const IDENTITY_TIMEOUT_S = 180;
/** How long a clone's user data may take (packages from a mirror…). */
const USER_DATA_TIMEOUT_S = 600;

export class TemplateService {
  private readonly col: Collection<TemplateRecord>;
  private readonly root: string;
  private readonly log: (msg: string) => void;
  private readonly journal: WarmJournal;

  constructor(private readonly deps: TemplateDeps) {
    this.col = deps.store.collection<TemplateRecord>('templates');
    this.root = join(deps.dataDir, 'templates');
    this.log = deps.log ?? (() => {});
    this.journal = new WarmJournal(join(deps.dataDir, 'warm-journal'));
  }

  /** After re-adoption, before the API answers: undoes what a killed daemon left half done (recover.ts). */
  async recover(): Promise<void> {
    await recoverWarmJobs({
      ...this.cleanupDeps(), journal: this.journal, log: this.log,
      memoryFileOf: async (name) => (await this.col.get(name))?.memoryFile,
    });
  }

  async list(): Promise<TemplateView[]> {
    const volumes = await this.deps.storage.listVolumes();
    return (await this.col.list()).sort((a, b) => a.name.localeCompare(b.name)).map((t) => view(t, clonesOf(t, volumes)));
  }

  async get(name: string): Promise<TemplateView> {
    const t = await this.mustGet(name);
    return view(t, clonesOf(t, await this.deps.storage.listVolumes()));
  }

  private async mustGet(name: string): Promise<TemplateRecord> {
    const t = await this.col.get(name);
    if (!t) throw new HangarError('TEMPLATE_NOT_FOUND', `No warm template named "${name}" (hangar template list).`);
    return t;
  }

  /** Refused (TEMPLATE_IN_USE) while any VM's disk is an overlay of one of its disks. */
  async delete(name: string): Promise<void> {
    const t = await this.mustGet(name);
    const users = clonesOf(t, await this.deps.storage.listVolumes());
    if (users.length > 0) {
      throw new HangarError('TEMPLATE_IN_USE', `Warm template "${name}" has clones whose disks are linked to it: ${users.join(', ')}. Delete them first.`, { details: { vms: users } });
    }
    await this.col.delete(name);
    await rm(t.dir, { recursive: true, force: true });
    await this.deps.events.publish('template.deleted', undefined, { template: name });
  }

  // ---- template create ---------------------------------------------------------

  async create(input: { name: string; fromVm: string }): Promise<TemplateView> {
    const name = input.name;
    if (typeof name !== 'string' || !TEMPLATE_NAME.test(name)) {
      throw new HangarError('INVALID_NAME', `Template name ${JSON.stringify(name)}: letters, digits and hyphens, starting with a letter, at most 63.`, { details: { field: 'name' } });
    }
    if (await this.col.get(name)) throw new HangarError('TEMPLATE_EXISTS', `A warm template named "${name}" exists: delete it first or pick another name.`);
    const first = await this.deps.vms.record(input.fromVm);
    checkSource(first);
    await this.checkSettled(first);
    const dir = join(this.root, name);
    const op = `template-${randomBytes(6).toString('hex')}`;
    const tmp = `${dir}.${op}.partial`;
    await this.journal.begin({ op, kind: 'template', template: name, startedAt: new Date().toISOString(), sourceVm: first.name, partialDir: tmp });
    let pauseMs = 0;
    try {
      await mkdir(this.root, { recursive: true, mode: 0o711 });
      await mkdir(tmp, { mode: 0o711 });
      const made = await this.deps.vms.operate(first.name, 'template', async (h) => {
        const rec = await h.record();
        checkSource(rec);
        const disks = await Promise.all(rec.spec.disks.map(async (d) => ({
          id: d.id, format: d.format, from: d.path,
          sizeBytes: d.volume ? (await this.deps.storage.getVolume(d.volume.pool, d.volume.name)).sizeBytes : (await stat(d.path)).size,
        })));
        const qmp = await h.qmp();
        const runDir = dirname(this.deps.vms.pathsOf(rec).qmpSocket);
        const runDirStat = await stat(runDir);
        const owner = runDirStat.uid === process.getuid?.() ? undefined : { uid: runDirStat.uid, gid: runDirStat.gid };
        const sink = await SaveSink.listen(join(runDir, 'template.sock'), join(tmp, 'state.bin.partial'), owner);
        await h.setState('migrating');
        const t0 = performance.now();
        try {
          await qmp.execute('stop');
          await applyMigrationParams(qmp, SAVE_DEFAULTS);
          await setIgnoreShared(qmp, true);
          await qmp.execute('migrate', { uri: `unix:${sink.socketPath}` });
          await watchMigration(qmp, () => {}, { what: `template of "${rec.name}"` });
          const stateBytes = await sink.finished;
          await sink.commit(join(tmp, 'state.bin'));
          // Paused, its disks flushed and inactive: the files are the guest at that instant.
          await Promise.all([
            copySparse(join(this.deps.memoryRoot, `${rec.id}.ram`), join(tmp, 'memory.ram')),
            ...disks.map((d) => copySparse(d.from, join(tmp, `${d.id}.${d.format}`))),
          ]);
          return { rec, disks, stateBytes };
        } catch (e) {
          await sink.abort();
          throw e;
        } finally {
          await setIgnoreShared(qmp, false).catch(() => undefined);
          await qmp.execute('cont').catch((e: unknown) => this.log(`${rec.name}: resuming after the template failed: ${errorText(e)}`));
          await h.syncRunState().catch(() => undefined);
          pauseMs = Math.round(performance.now() - t0);
        }
      });
      await chmod(join(tmp, 'memory.ram'), 0o600);
      for (const d of made.disks) await chmod(join(tmp, `${d.id}.${d.format}`), 0o444);
      await rename(tmp, dir);
      const record: TemplateRecord = {
        name, sourceVm: made.rec.name, sourceVmId: made.rec.id, createdAt: new Date().toISOString(), dir,
        memoryFile: join(dir, 'memory.ram'), stateFile: join(dir, 'state.bin'), spec: structuredClone(made.rec.spec) as VmSpec,
        disks: made.disks.map((d) => ({ id: d.id, path: join(dir, `${d.id}.${d.format}`), format: d.format, sizeBytes: d.sizeBytes })),
        memoryBytes: (await stat(join(dir, 'memory.ram'))).blocks * 512, stateBytes: made.stateBytes, pauseMs,
      };
      if (!(await this.col.create(name, record))) {
        await rm(dir, { recursive: true, force: true });
        throw new HangarError('TEMPLATE_EXISTS', `A warm template named "${name}" was made meanwhile.`);
      }
      await this.journal.end(op);
      await this.deps.events.publish('template.created', made.rec.name, { template: name, pauseMs, stateBytes: made.stateBytes });
      return view(record, []);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      await this.journal.end(op);
      throw e;
    }
  }

  /** The guest agent answers; cloud-init (where the VM has it) is done. */
  private async checkSettled(rec: VmRecord): Promise<void> {
    const ok = await this.deps.vms.exec(rec.name, ['true'], { timeoutSeconds: 10 }).catch((e: unknown) => {
      throw new HangarError('TEMPLATE_SOURCE_UNFIT', `VM "${rec.name}": its guest agent does not answer (${errorText(e)}). Wait until the guest has booted.`);
    });
    if (ok.exitCode !== 0) throw new HangarError('TEMPLATE_SOURCE_UNFIT', `VM "${rec.name}": a command through its guest agent failed.`);
    if (!rec.spec.cloudInit) return;
    const ci = await this.deps.vms.exec(rec.name, ['cloud-init', 'status'], { timeoutSeconds: 30 }).catch(() => undefined);
    const status = /status:\s*(\S+)/.exec(ci?.stdout ?? '')?.[1];
    if (status !== 'done') {
      throw new HangarError('TEMPLATE_SOURCE_UNFIT', `VM "${rec.name}": cloud-init is not done (status: ${status ?? 'unknown'}). Wait for it, then make the template.`, { details: { cloudInit: status ?? null } });
    }
  }

  // ---- clones ------------------------------------------------------------------

  /** `vm create NAME --from-template T [--count N]`: ends once every clone is ready (or none is left). */
  async clone(template: string, input: { name: string; count?: number; userData?: string }): Promise<{ template: string; vms: VmView[]; timings: WarmCloneTiming[] }> {
    const t0 = performance.now();
    const t = await this.mustGet(template);
    const userData = input.userData !== undefined ? userDataExec(input.userData) : undefined;
    const count = input.count;
    if (count !== undefined && (!Number.isSafeInteger(count) || count < 1 || count > 64)) throw new HangarError('INVALID_SPEC', `count must be 1-64, not ${count}.`, { details: { field: 'count' } });
    const names = count === undefined ? [validateVmName(input.name)] : Array.from({ length: count }, (_, i) => validateVmName(`${input.name}-${i + 1}`));
    for (const n of names) if (await this.deps.store.getVm(n)) throw new HangarError('VM_EXISTS', `A VM named "${n}" already exists: pick another name.`);
    for (const d of t.disks) if (!existsSync(d.path)) throw new HangarError('TEMPLATE_NOT_FOUND', `Warm template "${t.name}" lost its disk file ${d.path}: delete it and make it again.`);
    const plans = await Promise.all(names.map((n) => this.planClone(t, n)));
    const op = `clone-${randomBytes(6).toString('hex')}`;
    // Before anything exists: a daemon killed from here on leaves complete clones or none (recover()).
    await this.journal.begin({ op, kind: 'clone', template: t.name, startedAt: new Date().toISOString(), clones: plans });
    const records: VmRecord[] = [];
    try {
      for (const p of plans) records.push(await this.createClone(t, p));
      const created = performance.now() - t0;
      const settled = await Promise.allSettled(records.map((r) => this.startClone(t, r, { t0, createdMs: created, userData, ready: () => this.journal.markReady(op, r.name) })));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const timings = settled.map((s) => (s as PromiseFulfilledResult<WarmCloneTiming>).value);
      await this.journal.end(op);
      return { template: t.name, vms: await Promise.all(names.map((n) => this.deps.vms.get(n))), timings };
    } catch (e) {
      // Complete clones or none: a failed create leaves nothing behind.
      await undoClones(this.cleanupDeps(), plans, (m) => this.log(m));
      await this.journal.end(op);
      throw e;
    }
  }

  private cleanupDeps(): CleanupDeps {
    return { store: this.deps.store, vms: this.deps.vms, storage: this.deps.storage };
  }

  /** Where a clone's pieces will be: checked free, nothing made yet. */
  private async planClone(t: TemplateRecord, dst: string): Promise<JournalClone> {
    const volumes: JournalClone['volumes'] = [];
    for (const base of t.disks) {
      const src = t.spec.disks.find((d) => d.id === base.id)!;
      const pool = src.volume?.pool ?? 'default';
      const volName = cloneVolumeName(t.sourceVm, dst, src.volume?.name ?? `${dst}-${base.id}`, base.id);
      const path = await this.deps.storage.pathFor(pool, volName);
      if (existsSync(path)) throw new HangarError('VOLUME_EXISTS', `Pool "${pool}" has a file ${path} already: delete the volume that holds it, or pick another name.`);
      volumes.push({ pool, name: volName, path });
    }
    return { name: dst, id: randomBytes(6).toString('hex'), volumes };
  }

  /** The clone's record (stopped) and its overlay disks. */
  private async createClone(t: TemplateRecord, plan: JournalClone): Promise<VmRecord> {
    const { storage } = this.deps;
    const { name: dst, id } = plan;
    const all = await this.deps.store.listVms();
    const spec = cloneSpec(t.spec, dst, id, all.flatMap((v) => v.spec.nics.map((n) => n.mac)), this.deps.tapFor);
    spec.vmgenid = randomUUID();
    spec.template = t.name;
    delete spec.autostart;
    for (const [i, base] of t.disks.entries()) {
      const src = t.spec.disks.find((d) => d.id === base.id)!;
      const { pool, name: volName, path } = plan.volumes[i]!;
      await writeQcow2Overlay(path, base.sizeBytes, { path: base.path, format: base.format });
      const vol: VolumeRecord = {
        pool, name: volName, format: 'qcow2', sizeBytes: base.sizeBytes, path, ownedBy: dst,
        backing: { kind: 'image', name: `template:${t.name}`, path: base.path, format: base.format }, createdAt: new Date().toISOString(),
      };
      await storage.putVolume(vol, { create: true });
      await storage.markAttached(pool, volName, dst);
      spec.disks.push({ ...structuredClone(src), path, format: 'qcow2', volume: { pool, name: volName } });
    }
    const now = new Date().toISOString();
    const record: VmRecord = { id, name: dst, spec, state: 'stopped', createdAt: now, updatedAt: now };
    await this.deps.vms.createRestored(record);
    return record;
  }

  /** Starts a clone from the template's state, gives it its identity, brings its links up. */
  private async startClone(t: TemplateRecord, rec: VmRecord, o: { t0: number; createdMs: number; userData?: ReturnType<typeof userDataExec>; ready: () => Promise<void> }): Promise<WarmCloneTiming> {
    const { t0, createdMs } = o;
    return this.deps.vms.operate(rec.name, 'warm-start', async (h) => {
      const sock = join(dirname(this.deps.vms.pathsOf(rec).qmpSocket), 'warm.sock');
      await rm(sock, { force: true });
      let qemuMs = 0;
      await h.start({
        incoming: true, incomingFailState: 'stopped', warmMemory: t.memoryFile,
        beforeCont: async (qmp) => {
          qemuMs = performance.now() - t0;
          await applyMigrationParams(qmp, SAVE_DEFAULTS);
          await setIgnoreShared(qmp, true);
          await qmp.execute('migrate-incoming', { uri: `unix:${sock}` });
          const feeding = feedSave(t.stateFile, sock);
          feeding.catch(() => undefined);
          await Promise.race([watchMigration(qmp, () => {}, { what: `warm start of "${rec.name}"` }), feeding.then(() => new Promise(() => {}))]);
          await feeding.catch(() => undefined);
          // The loaded state carries the template's MAC: no traffic until the clone's identity is in place.
          await setLinks(qmp, rec, false);
        },
      });
      await rm(sock, { force: true });
      const runningMs = performance.now() - t0;
      const plan = planCloneIdentity({
        name: rec.name, id: rec.id, uuid: rec.spec.uuid!, ...(t.spec.cloudInit?.hostname !== undefined && { templateHostname: t.spec.cloudInit.hostname }),
        macs: t.spec.nics.map((n, i) => ({ from: n.mac, to: rec.spec.nics[i]!.mac })),
      });
      const { argv, input } = identityExec(plan);
      const out = await this.execWhenAgentAnswers(rec.name, argv, input);
      if (out.exitCode !== 0) throw new HangarError('CLONE_IDENTITY_FAILED', `Warm clone "${rec.name}" could not take its own identity (exit ${out.exitCode}): ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      const steps = parseSteps(out.stdout);
      const identityMs = performance.now() - t0;
      await setLinks(await h.qmp(), rec, true);
      if (o.userData) {
        const ud = await this.deps.vms.exec(rec.name, o.userData.argv, { input: o.userData.input, timeoutSeconds: USER_DATA_TIMEOUT_S });
        if (ud.exitCode !== 0) {
          throw new HangarError('CLONE_USER_DATA_FAILED', `Warm clone "${rec.name}": its user data failed (exit ${ud.exitCode}): ${(ud.stderr || ud.stdout).trim().split('\n').slice(-3).join(' | ')}`, { details: { vm: rec.name, exitCode: ud.exitCode } });
        }
        steps.push('user-data');
      }
      const readyMs = performance.now() - t0;
      // Complete: from here a killed daemon keeps it.
      await o.ready();
      await this.deps.events.publish('vm.warm-ready', rec.name, { template: t.name, runningMs: Math.round(runningMs), readyMs: Math.round(readyMs) });
      return { vm: rec.name, createdMs: Math.round(createdMs), qemuMs: Math.round(qemuMs), runningMs: Math.round(runningMs), identityMs: Math.round(identityMs), readyMs: Math.round(readyMs), steps };
    });
  }

  private async execWhenAgentAnswers(vm: string, argv: string[], input: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const deadline = Date.now() + AGENT_WAIT_MS;
    for (;;) {
      try {
        return await this.deps.vms.exec(vm, argv, { input, timeoutSeconds: IDENTITY_TIMEOUT_S });
      } catch (e) {
        // Started but not finished in time: never run a second time beside it.
        const started = (e as { details?: { pid?: unknown } }).details?.pid !== undefined;
        if (started || Date.now() > deadline) throw new HangarError('CLONE_IDENTITY_FAILED', `Warm clone "${vm}": ${started ? 'its identity step did not finish' : 'its guest agent did not answer'}: ${errorText(e)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

function checkSource(rec: VmRecord): void {
  const unfit = (why: string) => new HangarError('TEMPLATE_SOURCE_UNFIT', `VM "${rec.name}" cannot become a warm template: ${why}`, { details: { vm: rec.name } });
  if (rec.state !== 'running') throw unfit(`it is ${rec.state}; it must be running (booted, its agent answering).`);
  if (rec.spec.memoryBacking !== 'file') throw unfit('its memory is not file-backed. Create it with `--memory-backing file` (API memoryBacking: "file").');
  if (rec.spec.tpm) throw unfit('it has a TPM (its state would be every clone\'s).');
  if (rec.spec.firmware?.nvram) throw unfit('it boots with UEFI (its NVRAM is not copied to clones yet).');
  if (rec.spec.hostdevs?.length) throw unfit('it has host (VFIO) devices.');
  if (rec.runtime?.hotplug && Object.keys(rec.runtime.hotplug).length > 0) throw unfit('it has hot-plugged devices this run (clones start with the configured hardware): restart it first.');
  const live = rec.runtime?.live;
  if (live && (live.dimms > 0 || live.cpus !== rec.spec.cpus || live.memoryMiB !== rec.spec.memoryMiB)) throw unfit('its CPUs or memory were changed live this run: restart it first.');
}

async function setIgnoreShared(qmp: QmpClient, on: boolean): Promise<void> {
  await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: on }] });
}

async function setLinks(qmp: QmpClient, rec: VmRecord, up: boolean): Promise<void> {
  for (const nic of rec.spec.nics) await qmp.execute('set_link', { name: nic.id, up });
}

/** `cp --sparse=always --reflink=auto`: a reflink where the file system can, else only the written blocks. */
async function copySparse(from: string, to: string): Promise<void> {
  await run('cp', ['--sparse=always', '--reflink=auto', '--', from, to]);
}

function clonesOf(t: TemplateRecord, volumes: VolumeRecord[]): string[] {
  const prefix = `${t.dir}/`;
  return [...new Set(volumes.filter((v) => v.backing?.path.startsWith(prefix)).map((v) => v.attachedTo ?? v.ownedBy ?? `${v.pool}/${v.name}`))].sort();
}

function view(t: TemplateRecord, clones: string[]): TemplateView {
  return {
    name: t.name, sourceVm: t.sourceVm, createdAt: t.createdAt, cpus: t.spec.cpus, memory: t.spec.memoryMiB, ...(t.spec.image !== undefined && { image: t.spec.image }),
    disks: t.disks.map((d) => ({ id: d.id, sizeBytes: d.sizeBytes })), memoryBytes: t.memoryBytes, stateBytes: t.stateBytes, pauseMs: t.pauseMs, clones,
  };
}

function parseSteps(stdout: string): string[] {
  try {
    const last = stdout.trim().split('\n').pop() ?? '[]';
    const parsed = JSON.parse(last) as unknown;
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}
