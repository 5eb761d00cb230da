/**
 * The SPICE link handshake (spice-protocol's SpiceLinkHeader, SpiceLinkMess, SpiceLinkReply),
 * just enough for a proxy that checks a password of its own before it lets a client through
 * to QEMU. Every SPICE channel (main, display, inputs, cursor, …) is one connection that
 * starts like this, all integers little-endian:
 *
 *   client → header {magic "REDQ", major 2, minor 2, size} + link message (size bytes:
 *            connection id, channel type and id, capability words)
 *   server → header + link reply {error, public key (RSA-1024, 162 bytes of SPKI DER),
 *            capability words}
 *   client → [auth mechanism (u32), when both sides announced auth selection] + ticket:
 *            RSA-OAEP (SHA-1) of the password and a NUL, 128 bytes
 *   server → link result (u32, 0 = OK), then the channel's own messages
 *
 * The gate forwards the client's link message to QEMU, hands the client QEMU's reply with the
 * gate's own public key in place of QEMU's, and decrypts the ticket with its own private key.
 * Only a matching password gets through: the gate then sends QEMU a ticket of its own (QEMU's
 * SPICE has no ticketing, behind a socket only root and the guest's user can open, but still
 * wants a well-formed one), passes QEMU's link result on, and joins the two streams.
 * Each connection file (and `hangar console --spice`) has its own password, so viewers never
 * share or overwrite one another's, and QEMU holds no password at all.
 */
import { constants, createHash, createPublicKey, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';

export const SPICE_MAGIC = 0x51444552; // "REDQ"
export const SPICE_VERSION_MAJOR = 2;
export const SPICE_VERSION_MINOR = 2;
export const LINK_HEADER_BYTES = 16;
/** SpiceLinkMess without its capability words. */
export const LINK_MESS_BYTES = 18;
/** SpiceLinkReply without its capability words. */
export const LINK_REPLY_BYTES = 178;
export const PUBKEY_BYTES = 162;
export const TICKET_BYTES = 128;
/** spice-protocol's SPICE_MAX_PASSWORD_LENGTH. */
export const MAX_PASSWORD_BYTES = 60;
/** Link messages are a few dozen bytes; anything near this is not SPICE. */
const MAX_LINK_BYTES = 4096;

/** Common capability bits (word 0). */
export const CAP_AUTH_SELECTION = 1 << 0;
export const CAP_AUTH_SPICE = 1 << 1;
export const CAP_AUTH_SASL = 1 << 2;
export const CAP_MINI_HEADER = 1 << 3;
export const AUTH_MECHANISM_SPICE = 1;

export const LINK_ERR = { OK: 0, ERROR: 1, INVALID_MAGIC: 2, INVALID_DATA: 3, VERSION_MISMATCH: 4, PERMISSION_DENIED: 7 } as const;

export interface SpiceKeyPair {
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER, exactly PUBKEY_BYTES long. */
  publicDer: Buffer;
}

let processKey: SpiceKeyPair | undefined;

/** The RSA-1024 key pair SPICE tickets are encrypted to (what the protocol fixes), made once per process. */
export function spiceKeyPair(): SpiceKeyPair {
  if (!processKey) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 65537 });
    const publicDer = publicKey.export({ type: 'spki', format: 'der' });
    if (publicDer.length !== PUBKEY_BYTES) throw new Error(`an RSA-1024 SPKI key is ${PUBKEY_BYTES} bytes, got ${publicDer.length}`);
    processKey = { privateKey, publicDer };
  }
  return processKey;
}

export function linkHeader(size: number): Buffer {
  const h = Buffer.alloc(LINK_HEADER_BYTES);
  h.writeUInt32LE(SPICE_MAGIC, 0);
  h.writeUInt32LE(SPICE_VERSION_MAJOR, 4);
  h.writeUInt32LE(SPICE_VERSION_MINOR, 8);
  h.writeUInt32LE(size, 12);
  return h;
}

export interface LinkHeader {
  magic: number;
  major: number;
  minor: number;
  size: number;
}

export function parseLinkHeader(b: Buffer): LinkHeader {
  return { magic: b.readUInt32LE(0), major: b.readUInt32LE(4), minor: b.readUInt32LE(8), size: b.readUInt32LE(12) };
}

/** Capability words of a link message (`base` = its fixed part) or reply; throws on a bad layout. */
function capabilityWords(body: Buffer, base: number, countsAt: number): { common: number[]; channel: number[]; offset: number } {
  if (body.length < base) throw new Error(`a link body of ${body.length} bytes is shorter than ${base}`);
  const nCommon = body.readUInt32LE(countsAt);
  const nChannel = body.readUInt32LE(countsAt + 4);
  const offset = body.readUInt32LE(countsAt + 8);
  if (nCommon + nChannel > 64 || offset < base || offset + 4 * (nCommon + nChannel) > body.length) throw new Error('the link capabilities do not fit their message');
  const words = (from: number, n: number) => Array.from({ length: n }, (_, i) => body.readUInt32LE(offset + 4 * (from + i)));
  return { common: words(0, nCommon), channel: words(nCommon, nChannel), offset };
}

export interface LinkMess {
  connectionId: number;
  channelType: number;
  channelId: number;
  commonCaps: number[];
  channelCaps: number[];
}

export function parseLinkMess(body: Buffer): LinkMess {
  const caps = capabilityWords(body, LINK_MESS_BYTES, 6);
  return { connectionId: body.readUInt32LE(0), channelType: body.readUInt8(4), channelId: body.readUInt8(5), commonCaps: caps.common, channelCaps: caps.channel };
}

export function buildLinkMess(m: LinkMess): Buffer {
  const caps = [...m.commonCaps, ...m.channelCaps];
  const b = Buffer.alloc(LINK_MESS_BYTES + 4 * caps.length);
  b.writeUInt32LE(m.connectionId, 0);
  b.writeUInt8(m.channelType, 4);
  b.writeUInt8(m.channelId, 5);
  b.writeUInt32LE(m.commonCaps.length, 6);
  b.writeUInt32LE(m.channelCaps.length, 10);
  b.writeUInt32LE(LINK_MESS_BYTES, 14);
  caps.forEach((c, i) => b.writeUInt32LE(c >>> 0, LINK_MESS_BYTES + 4 * i));
  return b;
}

export interface LinkReply {
  error: number;
  publicDer: Buffer;
  commonCaps: number[];
  channelCaps: number[];
}

export function parseLinkReply(body: Buffer): LinkReply {
  if (body.length < 4) throw new Error('the link reply is too short');
  const error = body.readUInt32LE(0);
  // A refusal may come without key and capabilities.
  if (error !== LINK_ERR.OK && body.length < LINK_REPLY_BYTES) return { error, publicDer: Buffer.alloc(0), commonCaps: [], channelCaps: [] };
  const caps = capabilityWords(body, LINK_REPLY_BYTES, 4 + PUBKEY_BYTES);
  return { error, publicDer: Buffer.from(body.subarray(4, 4 + PUBKEY_BYTES)), commonCaps: caps.common, channelCaps: caps.channel };
}

/** The ticket a client sends: the password and a NUL, encrypted to the server's key. */
export function encryptTicket(publicDer: Buffer, password: string): Buffer {
  const key = createPublicKey({ key: publicDer, format: 'der', type: 'spki' });
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]));
}

/** The password in a ticket, or undefined when it does not decrypt. */
export function decryptTicket(key: SpiceKeyPair, ticket: Buffer): Buffer | undefined {
  try {
    const plain = privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ticket);
    const nul = plain.indexOf(0);
    return nul >= 0 ? plain.subarray(0, nul) : plain;
  } catch {
    return undefined;
  }
}

/** Constant-time password comparison (by digest, so lengths leak nothing either). */
export function passwordMatches(given: Buffer, expected: string): boolean {
  const digest = (b: Buffer) => createHash('sha256').update(b).digest();
  return timingSafeEqual(digest(given), digest(Buffer.from(expected, 'utf8')));
}

/** A random password for one connection file: 128 bits, base64url (well under SPICE's 60 bytes). */
export function newSpicePassword(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Reads exact byte counts from a stream (the handshake), then hands the stream back with
 * whatever arrived beyond them.
 */
export class ExactReader {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    this.serve();
  };
  private readonly onEnd = () => this.fail(new Error('the connection closed during the SPICE handshake'));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  read(n: number): Promise<Buffer> {
    if (this.waiting) return Promise.reject(new Error('one read at a time'));
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.serve();
    });
  }

  /** Stops reading: the stream is paused, and the bytes read beyond the handshake are returned. */
  release(): Buffer {
    this.stream.pause();
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    const rest = Buffer.concat(this.buffered);
    this.buffered = [];
    this.bufferedBytes = 0;
    return rest;
  }

  private serve(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.bufferedBytes >= w.n) {
      const all = Buffer.concat(this.buffered);
      this.buffered = all.length > w.n ? [all.subarray(w.n)] : [];
      this.bufferedBytes = all.length - w.n;
      this.waiting = undefined;
      w.resolve(all.subarray(0, w.n));
    } else if (this.ended) {
      this.waiting = undefined;
      w.reject(this.ended);
    }
  }

  private fail(e: Error): void {
    this.ended ??= e;
    this.serve();
  }
}

export type GateOutcome = 'linked' | 'denied' | 'failed';

export interface SpiceGateOptions {
  /** What the client's ticket must hold. */
  password: string;
  /** Opens the way to QEMU's SPICE (its unix socket, or a WebSocket through the daemon); called only for a client that spoke SPICE. */
  upstream: () => Promise<Duplex>;
  key?: SpiceKeyPair;
  /** The whole handshake must be done within this (default 20 s). */
  timeoutMs?: number;
  /** Told why a connection failed (QEMU unreachable, a refused console token…); not for a wrong password. */
  onError?: (e: unknown) => void;
}

/**
 * Runs the link handshake between a client and QEMU, checking the client's password, and on
 * success joins the two streams (each is destroyed when the other closes). Resolves with how
 * it ended; never throws.
 */
export async function gateSpiceConnection(client: Duplex, opts: SpiceGateOptions): Promise<GateOutcome> {
  const key = opts.key ?? spiceKeyPair();
  const fromClient = new ExactReader(client);
  let upstream: Duplex | undefined;
  let fromQemu: ExactReader | undefined;
  const timer = setTimeout(() => {
    client.destroy();
    upstream?.destroy();
  }, opts.timeoutMs ?? 20_000);
  const refuse = (error: number) => {
    client.end(u32(error));
    upstream?.destroy();
  };
  try {
    const head = parseLinkHeader(await fromClient.read(LINK_HEADER_BYTES));
    if (head.magic !== SPICE_MAGIC) {
      client.destroy();
      return 'failed';
    }
    if (head.size < LINK_MESS_BYTES || head.size > MAX_LINK_BYTES) {
      refuse(LINK_ERR.INVALID_DATA);
      return 'failed';
    }
    const messBody = await fromClient.read(head.size);
    const mess = parseLinkMess(messBody);
    const clientSelects = ((mess.commonCaps[0] ?? 0) & CAP_AUTH_SELECTION) !== 0;

    upstream = await opts.upstream();
    fromQemu = new ExactReader(upstream);
    upstream.write(Buffer.concat([linkHeader(head.size), messBody]));
    const replyHead = parseLinkHeader(await fromQemu.read(LINK_HEADER_BYTES));
    if (replyHead.magic !== SPICE_MAGIC || replyHead.size < 4 || replyHead.size > MAX_LINK_BYTES) throw new Error('QEMU did not answer with a SPICE link reply');
    const replyBody = Buffer.from(await fromQemu.read(replyHead.size));
    const reply = parseLinkReply(replyBody);
    if (reply.error !== LINK_ERR.OK) {
      // QEMU refused the link itself (version, channel): the client hears it as QEMU said it.
      client.end(Buffer.concat([linkHeader(replyHead.size), replyBody]));
      upstream.destroy();
      return 'failed';
    }
    // The gate's key instead of QEMU's; and no SASL, which only QEMU could do.
    key.publicDer.copy(replyBody, 4);
    const capsOffset = replyBody.readUInt32LE(4 + PUBKEY_BYTES + 8);
    if (reply.commonCaps.length > 0) replyBody.writeUInt32LE((reply.commonCaps[0]! & ~CAP_AUTH_SASL) >>> 0, capsOffset);
    client.write(Buffer.concat([linkHeader(replyHead.size), replyBody]));

    const selects = clientSelects && ((reply.commonCaps[0] ?? 0) & CAP_AUTH_SELECTION) !== 0;
    if (selects) {
      const mechanism = (await fromClient.read(4)).readUInt32LE(0);
      if (mechanism !== AUTH_MECHANISM_SPICE) {
        refuse(LINK_ERR.INVALID_DATA);
        return 'failed';
      }
    }
    const given = decryptTicket(key, await fromClient.read(TICKET_BYTES));
    if (given === undefined || !passwordMatches(given, opts.password)) {
      refuse(LINK_ERR.PERMISSION_DENIED);
      return 'denied';
    }
    upstream.write(Buffer.concat([...(selects ? [u32(AUTH_MECHANISM_SPICE)] : []), encryptTicket(reply.publicDer, '')]));
    // QEMU's link result goes to the client on its own, before anything that follows it: over
    // TLS, spice-gtk reads it from a record and then waits for the socket to be readable, so
    // the channel's first messages must not sit in the same record (it would wait forever).
    const result = await fromQemu.read(4);
    await new Promise<void>((resolve, reject) => client.write(result, (e) => (e ? reject(e) : resolve())));
    if (result.readUInt32LE(0) !== LINK_ERR.OK) {
      client.end();
      upstream.destroy();
      return 'failed';
    }
    clearTimeout(timer);
    join(client, fromClient.release(), upstream, fromQemu.release());
    return 'linked';
  } catch (e) {
    opts.onError?.(e);
    client.destroy();
    upstream?.destroy();
    return 'failed';
  } finally {
    clearTimeout(timer);
  }
}

/** Pipes two streams into each other (with what was read ahead of each), ending both together. */
function join(a: Duplex, aRest: Buffer, b: Duplex, bRest: Buffer): void {
  if (aRest.length) b.write(aRest);
  if (bRest.length) a.write(bRest);
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.once('close', close);
    s.on('error', close);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}
