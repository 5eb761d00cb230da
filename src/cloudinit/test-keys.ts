/** Syntactically valid SSH public keys for tests (random key material, never used to log in). */
import { randomBytes } from 'node:crypto';

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export function fakeEd25519Key(comment = 'test@hangar'): string {
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(randomBytes(32))]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

export function fakeKey(type: string, comment = 'test@hangar'): string {
  const blob = Buffer.concat([sshString(type), sshString(randomBytes(48))]);
  return `${type} ${blob.toString('base64')} ${comment}`;
}
