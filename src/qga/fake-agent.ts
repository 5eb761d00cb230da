/**
 * A scripted stand-in for qemu-guest-agent behind QEMU's socket chardev, for tests:
 *  - like the chardev, it serves one connection at a time (later ones wait, connected but unanswered);
 *  - like the agent, a 0xFF byte resets its JSON parser and is answered with a parse error,
 *    `guest-sync-delimited` is answered with 0xFF + `{"return": id}`, and `guest-shutdown`
 *    gets no answer on success;
 *  - it can be told to send stale bytes on connect, delay answers, or not answer at all
 *    (the agent not running in the guest).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

export type FakeReply =
  | { return: unknown }
  | { error: { class: string; desc: string } }
  /** Send nothing (guest-shutdown on success). */
  | { noReply: true };

export type FakeHandler = (args: Record<string, unknown> | undefined, agent: FakeGuestAgent) => FakeReply | Promise<FakeReply>;

export interface FakeGuestAgentOptions {
  /** Command handlers; defaults cover guest-ping, guest-info, guest-sync(-delimited). */
  handlers?: Record<string, FakeHandler>;
  /** Bytes written as soon as a connection is served (stale replies from an earlier session). */
  staleOnConnect?: Buffer | string;
  /** Delay before each answer, per command name (or '*' for all). */
  delayMs?: Record<string, number>;
  /** Accept connections but never answer anything (agent not running in the guest). */
  silent?: boolean;
}

export class FakeGuestAgent {
  readonly socketPath: string;
  readonly received: Array<{ execute: string; arguments?: Record<string, unknown> }> = [];
  connections = 0;
  private server: net.Server;
  private waiting: net.Socket[] = [];
  private active: net.Socket | undefined;
  /** Mutable: tests may change the behaviour between calls. */
  readonly opts: FakeGuestAgentOptions;
  readonly handlers: Record<string, FakeHandler>;

  private constructor(socketPath: string, opts: FakeGuestAgentOptions) {
    this.socketPath = socketPath;
    this.opts = opts;
    this.handlers = {
      'guest-ping': () => ({ return: {} }),
      'guest-info': () => ({ return: { version: '7.2.0-fake', supported_commands: [{ name: 'guest-ping', enabled: true, 'success-response': true }] } }),
      'guest-sync': (a) => ({ return: a?.['id'] }),
      ...opts.handlers,
    };
    this.server = net.createServer((s) => this.onConnection(s));
  }

  static async start(socketPath: string, opts: FakeGuestAgentOptions = {}): Promise<FakeGuestAgent> {
    fs.rmSync(socketPath, { force: true });
    const a = new FakeGuestAgent(socketPath, opts);
    await new Promise<void>((resolve, reject) => {
      a.server.once('error', reject);
      a.server.listen(socketPath, () => resolve());
    });
    return a;
  }

  commands(): string[] {
    return this.received.map((r) => r.execute);
  }

  private onConnection(s: net.Socket): void {
    s.on('error', () => undefined);
    if (this.active) {
      this.waiting.push(s);
      s.once('close', () => (this.waiting = this.waiting.filter((w) => w !== s)));
      return;
    }
    this.serve(s);
  }

  private serve(s: net.Socket): void {
    this.active = s;
    this.connections++;
    s.once('close', () => {
      if (this.active === s) this.active = undefined;
      const next = this.waiting.shift();
      if (next && !next.destroyed) this.serve(next);
    });
    if (this.opts.staleOnConnect !== undefined) s.write(this.opts.staleOnConnect);
    if (this.opts.silent) {
      s.resume();
      return;
    }
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const ff = buf.indexOf(0xff);
        const nl = buf.indexOf(0x0a);
        if (ff >= 0 && (nl < 0 || ff < nl)) {
          // The agent's lexer: 0xFF is a lexical error that resets the parser and is reported.
          buf = buf.subarray(ff + 1);
          chain = chain.then(() => this.send(s, { error: { class: 'GenericError', desc: "JSON parse error, stray '\\ufffd'" } }));
          continue;
        }
        if (nl < 0) break;
        const line = buf.subarray(0, nl).toString('utf8').trim();
        buf = buf.subarray(nl + 1);
        if (line === '') continue;
        chain = chain.then(() => this.handle(s, line));
      }
    });
  }

  private async send(s: net.Socket, msg: unknown, sentinel = false): Promise<void> {
    if (s.destroyed) return;
    const body = Buffer.from(`${JSON.stringify(msg)}\n`);
    s.write(sentinel ? Buffer.concat([Buffer.from([0xff]), body]) : body);
  }

  private async handle(s: net.Socket, line: string): Promise<void> {
    let req: { execute?: unknown; arguments?: Record<string, unknown> };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      return this.send(s, { error: { class: 'GenericError', desc: 'JSON parse error' } });
    }
    const execute = String(req.execute);
    this.received.push(req.arguments === undefined ? { execute } : { execute, arguments: req.arguments });
    const delay = this.opts.delayMs?.[execute] ?? this.opts.delayMs?.['*'] ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (execute === 'guest-sync-delimited') return this.send(s, { return: req.arguments?.['id'] }, true);
    const h = this.handlers[execute];
    if (!h) return this.send(s, { error: { class: 'CommandNotFound', desc: `The command ${execute} has not been found` } });
    const reply = await h(req.arguments, this);
    if ('noReply' in reply) return;
    return this.send(s, reply);
  }

  /** Drops the current connection (as QEMU does when the guest closes the port). */
  dropConnection(): void {
    this.active?.destroy();
  }

  async stop(): Promise<void> {
    for (const w of this.waiting) w.destroy();
    this.active?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.socketPath, { force: true });
  }
}
