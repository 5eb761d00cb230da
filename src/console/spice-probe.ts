/**
 * For tests of SPICE access: what a SPICE client (remote-viewer, spice-html5) does first on a
 * channel. Sends the link message of the main channel, reads the link reply and, given a
 * password, sends the ticket and reads the link result (0 = through, 7 = permission denied).
 * The stream is left paused, at the first byte after the handshake.
 */
import type { Duplex } from 'node:stream';
import {
  AUTH_MECHANISM_SPICE, buildLinkMess, CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_MINI_HEADER, encryptTicket, ExactReader,
  LINK_HEADER_BYTES, linkHeader, parseLinkHeader, parseLinkReply,
} from './spice-link.js';

export interface SpiceProbeResult {
  /** The first 4 bytes of the server's answer as text: "REDQ" from a SPICE server. */
  magic: string;
  /** The link reply's error (0 = OK). */
  error: number;
  commonCaps: number[];
  /** With a password: the link result after the ticket (0 = OK, 7 = permission denied). */
  result?: number;
  /** With `readSession` on a linked main channel: the session id its SPICE_MSG_MAIN_INIT gave (other channels link with it). */
  sessionId?: number;
}

/** SPICE_MSG_MAIN_INIT, the main channel's first real message. */
const MSG_MAIN_INIT = 103;

export async function spiceProbe(stream: Duplex, opts: { password?: string; channelType?: number; connectionId?: number; readSession?: boolean } = {}): Promise<SpiceProbeResult> {
  const reader = new ExactReader(stream);
  try {
    const mess = buildLinkMess({ connectionId: opts.connectionId ?? 0, channelType: opts.channelType ?? 1, channelId: 0, commonCaps: [CAP_AUTH_SELECTION | CAP_AUTH_SPICE | CAP_MINI_HEADER], channelCaps: [] });
    stream.write(Buffer.concat([linkHeader(mess.length), mess]));
    const headBytes = await reader.read(LINK_HEADER_BYTES);
    const head = parseLinkHeader(headBytes);
    const reply = parseLinkReply(await reader.read(head.size));
    const out: SpiceProbeResult = { magic: headBytes.subarray(0, 4).toString('latin1'), error: reply.error, commonCaps: reply.commonCaps };
    if (opts.password === undefined || reply.error !== 0) return out;
    const mechanism = Buffer.alloc(4);
    mechanism.writeUInt32LE(AUTH_MECHANISM_SPICE, 0);
    const selects = ((reply.commonCaps[0] ?? 0) & CAP_AUTH_SELECTION) !== 0;
    stream.write(Buffer.concat([...(selects ? [mechanism] : []), encryptTicket(reply.publicDer, opts.password)]));
    out.result = (await reader.read(4)).readUInt32LE(0);
    if (opts.readSession && out.result === 0) {
      // Mini headers (both sides announced them): type u16, size u32, then the body.
      for (let i = 0; i < 16 && out.sessionId === undefined; i++) {
        const h = await reader.read(6);
        const body = await reader.read(h.readUInt32LE(2));
        if (h.readUInt16LE(0) === MSG_MAIN_INIT) out.sessionId = body.readUInt32LE(0);
      }
    }
    return out;
  } finally {
    reader.release();
  }
}
