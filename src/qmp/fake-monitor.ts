/**
 * Test support: a scripted fake QMP monitor, over an in-memory socket pair or any Duplex
 * (e.g. the server side of a unix socket). Usable by any test that needs a QMP peer.
 */
import { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface ReceivedCommand {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

/** One end of an in-memory, byte-transparent connection: what one side writes, the other reads. */
class PairSide extends Duplex {
  peer!: PairSide;
  private eofSent = false;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.peer.push(chunk);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sendEof();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sendEof();
    cb(err);
  }

  private sendEof(): void {
    if (this.eofSent) return;
    this.eofSent = true;
    this.peer.push(null);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new PairSide();
  const b = new PairSide();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export const DEFAULT_GREETING = {
  QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'fake' }, capabilities: ['oob'] },
};

export interface FakeMonitorOptions {
  /** Send the greeting at once. Default true. */
  greeting?: boolean;
  /** Answer `qmp_capabilities` by itself. Default true. */
  autoCapabilities?: boolean;
  /** Use this stream as the monitor's end instead of an in-memory pair. */
  side?: Duplex;
}

export class FakeMonitor {
  /** Hand this to QmpClient.fromStream (undefined when built over an existing stream). */
  readonly clientSide?: Duplex;
  readonly side: Duplex;
  /** Every command the client sent, in order, including qmp_capabilities. */
  readonly commands: ReceivedCommand[] = [];
  /** Lines the client sent that were not JSON objects (should stay empty). */
  readonly badLines: string[] = [];

  private readonly unread: ReceivedCommand[] = [];
  private readonly waiters: ((c: ReceivedCommand) => void)[] = [];
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private readonly autoCapabilities: boolean;

  constructor(opts: FakeMonitorOptions = {}) {
    if (opts.side) {
      this.side = opts.side;
    } else {
      const [client, monitor] = duplexPair();
      this.clientSide = client;
      this.side = monitor;
    }
    this.autoCapabilities = opts.autoCapabilities ?? true;
    this.side.on('data', (chunk: Buffer) => this.onData(chunk));
    this.side.on('error', () => {});
    if (opts.greeting ?? true) this.send(DEFAULT_GREETING);
  }

  /** Sends one message as QEMU does: JSON, then "\r\n". */
  send(message: unknown): void {
    this.sendRaw(JSON.stringify(message) + '\r\n');
  }

  sendRaw(data: string | Uint8Array): void {
    this.side.write(data);
  }

  reply(cmd: ReceivedCommand, value: unknown = {}): void {
    this.send({ return: value, id: cmd.id });
  }

  replyError(cmd: ReceivedCommand, errorClass: string, desc: string): void {
    this.send({ id: cmd.id, error: { class: errorClass, desc } });
  }

  event(event: string, data?: Record<string, unknown>): void {
    this.send({ timestamp: { seconds: 1, microseconds: 2 }, event, ...(data ? { data } : {}) });
  }

  /** The next command not yet taken (qmp_capabilities excluded when answered automatically). */
  nextCommand(): Promise<ReceivedCommand> {
    const cmd = this.unread.shift();
    if (cmd) return Promise.resolve(cmd);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Closes the monitor's end, as QEMU does when it exits. */
  end(): void {
    this.side.end();
  }

  private onData(chunk: Buffer): void {
    this.buffer += this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      let cmd: unknown;
      try {
        cmd = JSON.parse(line);
      } catch {
        cmd = undefined;
      }
      if (typeof cmd !== 'object' || cmd === null || typeof (cmd as ReceivedCommand).execute !== 'string') {
        this.badLines.push(line);
        continue;
      }
      this.onCommand(cmd as ReceivedCommand);
    }
  }

  private onCommand(cmd: ReceivedCommand): void {
    this.commands.push(cmd);
    if (this.autoCapabilities && cmd.execute === 'qmp_capabilities') return this.reply(cmd);
    const waiter = this.waiters.shift();
    if (waiter) waiter(cmd);
    else this.unread.push(cmd);
  }
}
