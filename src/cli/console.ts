/**
 * `hangar console NAME`: the guest's serial console through the daemon (a WebSocket
 * on its unix socket, or over TLS with a console token). Interactive on a terminal (detach with Ctrl-]); with piped
 * stdin it sends the input, prints what the guest answers, and exits once the input
 * has ended and the guest has been quiet for `idleMs`.
 */
import { WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import { refusedUpgrade, type ApiClient } from '../client/index.js';

export const DETACH_KEY = 0x1d; // Ctrl-]

export interface ConsoleOptions {
  replay?: boolean;
  /** With piped input: how long the guest must be quiet after the input ends. */
  idleMs?: number;
  /** With piped input: the longest to wait for answers after the input ends. */
  maxWaitMs?: number;
  /** With piped input: exit as soon as the guest has printed this text. */
  until?: string;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

export async function runConsole(client: ApiClient, vmName: string, opts: ConsoleOptions = {}): Promise<void> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const interactive = Boolean(stdin.isTTY);
  const ws = await client.consoleWebSocket(vmName, { ...(opts.replay && { replay: true }) });

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let idleTimer: NodeJS.Timeout | undefined;
    let maxTimer: NodeJS.Timeout | undefined;
    let inputEnded = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idleTimer);
      clearTimeout(maxTimer);
      if (interactive) stdin.setRawMode(false);
      stdin.pause();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      if (err) reject(err);
      else resolve();
    };
    const armIdle = () => {
      if (!inputEnded) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish(), opts.idleMs ?? 1500);
    };

    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      void refusedUpgrade(res, 'the console').then((e) => finish(e));
    });
    ws.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? client.unreachable(e) : e));
    ws.on('close', (_code, reason) => {
      if (interactive && reason.length) stderr.write(`\r\n[console closed: ${reason.toString()}]\r\n`);
      finish();
    });
    let tail = '';
    ws.on('message', (data: Buffer) => {
      stdout.write(data);
      if (opts.until !== undefined && !interactive) {
        // Keep just enough of the output to spot the marker across frame boundaries.
        tail = (tail + data.toString('utf8')).slice(-(opts.until.length + 4096));
        if (tail.includes(opts.until)) return finish();
      }
      armIdle();
    });
    ws.on('open', () => {
      if (interactive) {
        stderr.write(`Connected to the serial console of ${vmName}. Detach with Ctrl-].\r\n`);
        stdin.setRawMode(true);
      }
      stdin.on('data', (chunk: Buffer) => {
        if (interactive) {
          const i = chunk.indexOf(DETACH_KEY);
          if (i >= 0) {
            if (i > 0) ws.send(chunk.subarray(0, i));
            stderr.write('\r\n[detached]\r\n');
            finish();
            return;
          }
        }
        ws.send(chunk);
      });
      stdin.on('end', () => {
        if (interactive) return finish();
        inputEnded = true;
        armIdle();
        maxTimer = setTimeout(() => finish(), opts.maxWaitMs ?? 30_000);
      });
      stdin.resume();
    });
  });
}
