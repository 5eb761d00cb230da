/**
 * The daemon's side of the fencer: starts it when none runs for this data dir (detached, in
 * a session of its own, so it outlives the daemon), reads its state (lease, deadline,
 * fenced), and tells it which HA guests run here.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { HangarError } from '../../errors/errors.js';
import { isSameLiveProcess } from '../../util/proc.js';
import { fencerDir, fencerFiles, readJson, writeJsonAtomic, type FencerState, type HaGuest } from './files.js';

/** The fencer's script: beside the daemon's bundle (dist/bundle/fencer.cjs). */
function fencerScript(): string {
  for (const rel of ['fencer.cjs', '../../bundle/fencer.cjs']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new HangarError('INTERNAL', 'The fencer (dist/bundle/fencer.cjs) is not built: run `npm run build`.');
}

export class FencerLink {
  private cached?: FencerState;
  private timer?: NodeJS.Timeout;
  private guestsText?: string;
  private polls = 0;

  constructor(private readonly o: { dataDir: string; log: (m: string) => void }) {}

  private get files() {
    return fencerFiles(this.o.dataDir);
  }

  /** Starts the fencer unless one runs; then follows its state. */
  async start(): Promise<void> {
    await this.beat();
    await this.ensure();
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.poll(), 250);
    this.timer.unref();
  }

  /** The daemon's heartbeat: the fencer renews the lease only while it is recent. */
  private async beat(): Promise<void> {
    const now = new Date();
    await utimes(this.files.heartbeat, now, now).catch(async () => {
      await mkdir(fencerDir(this.o.dataDir), { recursive: true, mode: 0o700 });
      await writeFile(this.files.heartbeat, '');
    });
  }

  private async poll(): Promise<void> {
    await this.beat().catch(() => undefined);
    this.cached = (await readJson<FencerState>(this.files.state)) ?? this.cached;
    // Every second: a fencer that died (killed, OOM) is started again at once.
    if (++this.polls % 4 === 0) await this.ensure().catch((e: unknown) => this.o.log(`starting the fencer failed: ${String(e)}`));
  }

  /** The fencer's last written state. */
  state(): FencerState | undefined {
    return this.cached;
  }

  /** True while the fencer runs (its pid is the process that wrote the state). */
  running(): boolean {
    const s = this.cached;
    return s !== undefined && isSameLiveProcess(s.pid, s.pidStartTime);
  }

  private async ensure(): Promise<void> {
    this.cached = (await readJson<FencerState>(this.files.state)) ?? this.cached;
    if (this.running()) return;
    const before = this.cached?.pid;
    const child = spawn(process.execPath, [fencerScript(), '--data-dir', this.o.dataDir], { detached: true, stdio: 'ignore' });
    child.unref();
    this.o.log(`Started the fencer (pid ${child.pid ?? '?'}): it holds this node's lease and kills its HA guests if the lease cannot be renewed.`);
    // Its first state names it (and, once etcd answers, the lease).
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const s = await readJson<FencerState>(this.files.state);
      if (s && s.pid !== before && isSameLiveProcess(s.pid, s.pidStartTime)) {
        this.cached = s;
        return;
      }
    }
  }

  /** Writes the list of HA guests that run here (only when it changed). */
  async publishGuests(guests: HaGuest[]): Promise<void> {
    const text = JSON.stringify(guests);
    if (text === this.guestsText) return;
    await writeJsonAtomic(this.files.guests, guests);
    this.guestsText = text;
  }

  /** Stops following the fencer; the fencer itself runs on (the guests do). */
  stop(): void {
    clearInterval(this.timer);
  }
}
