/**
 * Reading the files behind `vm create --user-data FILE`, `--network-config FILE` and
 * `--ssh-key FILE` (on the client side, before anything is sent to the daemon), with errors
 * that say which flag and what went wrong.
 */
import * as fs from 'node:fs/promises';
import { HangarError } from '../errors/errors.js';
import { MAX_DOCUMENT_BYTES, parseSshKeyFile } from './validate.js';

/**
 * The text of `file` for the option `what` (e.g. 'user-data'): refuses a missing, unreadable
 * or non-regular file, one over 64 KiB, and one that is not UTF-8 text.
 */
export async function readInputFile(file: string, what: string, maxBytes = MAX_DOCUMENT_BYTES): Promise<string> {
  let buf: Buffer;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new HangarError('INVALID_SPEC', `${what} file ${file} is not a regular file`);
    if (st.size > maxBytes) throw new HangarError('INVALID_SPEC', `${what} file ${file} is ${st.size} bytes; at most ${maxBytes} (64 KiB) are accepted`);
    buf = await fs.readFile(file);
  } catch (err) {
    if (err instanceof HangarError) throw err;
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'does not exist' : e.code === 'EACCES' || e.code === 'EPERM' ? 'is not readable (permission denied)' : `cannot be read: ${e.message}`;
    throw new HangarError('INVALID_SPEC', `${what} file ${file} ${why}`, { cause: err });
  }
  if (buf.length > maxBytes) throw new HangarError('INVALID_SPEC', `${what} file ${file} is ${buf.length} bytes; at most ${maxBytes} (64 KiB) are accepted`);
  const text = buf.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(buf) || text.includes('\0')) throw new HangarError('INVALID_SPEC', `${what} file ${file} is not UTF-8 text`);
  return text;
}

/** The public keys in an `--ssh-key FILE` (one or more lines, like authorized_keys). */
export async function readSshKeyFile(file: string): Promise<string[]> {
  return parseSshKeyFile(await readInputFile(file, 'ssh key', 256 * 1024), `ssh key file ${file}`);
}
