/**
 * What a backup is in the repository: its manifest (the VM's configuration and, per disk,
 * a digest per chunk), and the summary `backup list` shows.
 */
import { randomBytes } from 'node:crypto';
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import type { DiskChunks } from './disk-stream.js';
import type { BackupRepository } from './repository.js';

export interface BackupFileChunks {
  name: string;
  sizeBytes: number;
  chunks: Array<string | null>;
}

export interface BackupManifest {
  id: string;
  vm: string;
  vmId: string;
  createdAt: string;
  kind: 'full' | 'incremental';
  /** Why a backup that could have been incremental read everything. */
  fullReason?: string;
  /** The backup this one's unchanged chunks came from. */
  parent?: string;
  spec: VmSpec;
  disks: Array<DiskChunks & { id: string; format: 'qcow2' | 'raw'; pool?: string; volume?: string }>;
  nvram?: BackupFileChunks;
  tpm?: BackupFileChunks[];
  readBytes: number;
  storedBytes: number;
  durationMs: number;
  fsFrozen: boolean;
}

export type BackupSummary = Omit<BackupManifest, 'spec' | 'disks' | 'nvram' | 'tpm'> & { repo: string; sizeBytes: number; disks: Array<{ id: string; sizeBytes: number }> };

export function summary(m: BackupManifest, repo: string): BackupSummary {
  const { spec: _spec, nvram: _nvram, tpm: _tpm, disks, ...rest } = m;
  return { ...rest, repo, sizeBytes: disks.reduce((n, d) => n + d.sizeBytes, 0), disks: disks.map((d) => ({ id: d.id, sizeBytes: d.sizeBytes })) };
}

export function newBackupId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Bytes as whole chunks of a small file (NVRAM, TPM state). */
export async function putFile(repo: BackupRepository, name: string, data: Buffer): Promise<{ file: BackupFileChunks; stored: number }> {
  const chunks: Array<string | null> = [];
  let stored = 0;
  for (let at = 0; at < data.length; at += repo.config.chunkSize) {
    const put = await repo.putChunk(data.subarray(at, at + repo.config.chunkSize));
    chunks.push(put.digest);
    stored += put.storedBytes;
  }
  return { file: { name, sizeBytes: data.length, chunks }, stored };
}

export async function readFileChunks(repo: BackupRepository, f: BackupFileChunks): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const c of f.chunks) parts.push(c ? await repo.getChunk(c) : Buffer.alloc(0));
  const data = Buffer.concat(parts);
  if (data.length !== f.sizeBytes) throw new HangarError('BACKUP_CORRUPT', `${f.name} in the backup holds ${data.length} bytes where ${f.sizeBytes} were stored.`);
  return data;
}

