/**
 * Looking after a repository: retention (which backups a prune keeps), verification (every
 * chunk re-read and checked; damaged ones named with the backups that use them), and
 * garbage collection (chunks no backup uses).
 *
 * Every manifest lists all of its backup's chunks (an incremental one reuses the digests
 * of unchanged chunks, it does not point at another backup), so pruning any backup never
 * damages another: a chunk stays while any manifest names it.
 */
import type { BackupManifest } from './manifest.js';
import type { BackupRepository } from './repository.js';

export interface Retention {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** An ISO-8601 week key (`2026-W49`) of a UTC date. */
function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/**
 * Proxmox Backup Server's rule, per VM: backups newest first; keep-last keeps the newest N;
 * then each period (daily, weekly, monthly) keeps the newest backup of each of its newest N
 * periods that no earlier rule already covered. Everything not kept is pruned. With no rule
 * at all, everything is kept.
 */
export function selectKept<T extends { id: string; vm: string; createdAt: string }>(backups: T[], r: Retention): { keep: T[]; remove: T[] } {
  const rules: Array<[number | undefined, (b: T) => string]> = [
    [r.keepLast, (b) => b.id],
    [r.keepDaily, (b) => b.createdAt.slice(0, 10)],
    [r.keepWeekly, (b) => isoWeek(new Date(b.createdAt))],
    [r.keepMonthly, (b) => b.createdAt.slice(0, 7)],
  ];
  if (rules.every(([n]) => !n)) return { keep: [...backups], remove: [] };
  const keep: T[] = [];
  const remove: T[] = [];
  const byVm = new Map<string, T[]>();
  for (const b of backups) byVm.set(b.vm, [...(byVm.get(b.vm) ?? []), b]);
  for (const list of byVm.values()) {
    const sorted = [...list].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    const mark = new Map<string, 'keep' | 'remove'>();
    for (const [n, key] of rules) {
      if (!n) continue;
      const covered = new Set(sorted.filter((b) => mark.get(b.id) === 'keep').map(key));
      const included = new Set<string>();
      for (const b of sorted) {
        if (mark.has(b.id)) continue;
        const k = key(b);
        if (covered.has(k)) continue;
        if (!included.has(k)) {
          if (included.size >= n) break;
          included.add(k);
          mark.set(b.id, 'keep');
        } else {
          mark.set(b.id, 'remove');
        }
      }
    }
    for (const b of sorted) (mark.get(b.id) === 'keep' ? keep : remove).push(b);
  }
  return { keep, remove };
}

/** Every chunk a manifest names (disks, NVRAM, TPM). */
export function chunksOf(m: BackupManifest): Set<string> {
  const out = new Set<string>();
  const add = (list: Array<string | null>) => {
    for (const c of list) if (c) out.add(c);
  };
  for (const d of m.disks) add(d.chunks);
  if (m.nvram) add(m.nvram.chunks);
  for (const f of m.tpm ?? []) add(f.chunks);
  return out;
}

export interface VerifyResult {
  backups: Array<{ id: string; vm: string; ok: boolean; damagedChunks: string[] }>;
  chunksChecked: number;
  damagedChunks: string[];
}

/** Re-reads (decrypts, decompresses, hashes) every chunk any backup uses, once each. */
export async function verifyRepository(repo: BackupRepository, manifests: BackupManifest[], onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<VerifyResult> {
  const all = new Set<string>();
  const per = manifests.map((m) => ({ m, chunks: chunksOf(m) }));
  for (const p of per) for (const c of p.chunks) all.add(c);
  const damaged = new Set<string>();
  let done = 0;
  const list = [...all];
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      if (signal?.aborted) return;
      const c = list[next++]!;
      await repo.getChunk(c).catch(() => damaged.add(c));
      onProgress?.(++done, list.length);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return {
    backups: per.map(({ m, chunks }) => {
      const bad = [...chunks].filter((c) => damaged.has(c));
      return { id: m.id, vm: m.vm, ok: bad.length === 0, damagedChunks: bad };
    }),
    chunksChecked: done,
    damagedChunks: [...damaged],
  };
}

/** Removes chunks no manifest names; returns how many and how many bytes were freed. */
export async function collectGarbage(repo: BackupRepository, manifests: BackupManifest[]): Promise<{ removedChunks: number; freedBytes: number; keptChunks: number }> {
  const used = new Set<string>();
  for (const m of manifests) for (const c of chunksOf(m)) used.add(c);
  let removedChunks = 0;
  let freedBytes = 0;
  let keptChunks = 0;
  for await (const c of repo.chunkDigests()) {
    if (used.has(c)) {
      keptChunks++;
      continue;
    }
    freedBytes += await repo.deleteChunk(c);
    removedChunks++;
  }
  await repo.cleanTmp();
  return { removedChunks, freedBytes, keptChunks };
}
