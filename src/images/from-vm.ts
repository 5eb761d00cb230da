/**
 * The file of an image made from a VM's disk: a flattened qcow2 copy (no backing file, so
 * the image stands alone), built in the staging folder and moved into place when complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { OperationContext } from '../operations/service.js';
import { convertImage, imageInfo } from '../storage/qemu-img.js';

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function copyDiskToImage(
  src: { path: string; format: 'qcow2' | 'raw'; shared: boolean }, stagingDir: string, dest: string, ctx?: Pick<OperationContext, 'progress'>,
): Promise<{ path: string; virtualSizeBytes: number; actualSizeBytes: number; sha256: string }> {
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  const tmp = join(stagingDir, `${basename(dest)}.partial`);
  await rm(tmp, { force: true });
  try {
    await convertImage(src, { path: tmp, format: 'qcow2' }, {
      shared: src.shared, what: `Copying ${src.path} into an image`,
      onPercent: (percent) => ctx?.progress({ phase: 'copy', percent, bytesDone: 0 }),
    });
    const info = await imageInfo(tmp, { format: 'qcow2' });
    const sha256 = await sha256Of(tmp);
    await rename(tmp, dest);
    return { path: dest, virtualSizeBytes: info.virtualSizeBytes, actualSizeBytes: info.actualSizeBytes, sha256 };
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
