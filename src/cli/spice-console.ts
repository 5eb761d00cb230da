/**
 * `hangar console NAME --spice`: a SPICE client such as remote-viewer needs TCP, while the
 * daemon offers a VM's SPICE display as a WebSocket (on its unix socket, or over TLS with a
 * console token). This listens on 127.0.0.1 and gives each incoming connection (SPICE opens
 * one per channel) a WebSocket of its own to /v1/vms/NAME/spice (a fresh console token each,
 * when remote), after checking the password of the connection file it wrote, so other users
 * of this machine cannot use the port. Runs until Ctrl-C (SIGINT) or SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import { errorText, HangarError } from '../errors/errors.js';
import { gateSpiceConnection, newSpicePassword } from '../console/spice-link.js';
import { renderVvFile } from '../console/vv-file.js';
import { refusedUpgrade, type ApiClient } from '../client/index.js';
import { render, type OutputFormat } from './output.js';

export interface SpiceConsoleOptions {
  /** Local port; 0 (default) picks a free one. */
  port?: number;
  /** Start remote-viewer on the connection file. */
  open?: boolean;
  /** `json`: one line of JSON ({vm, host, port, file}) instead of the text, for scripts; `yaml` likewise. */
  output?: OutputFormat;
  /** The viewer program (default remote-viewer). */
  viewer?: string;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Ends the console (default: SIGINT or SIGTERM). */
  until?: Promise<void>;
}

export async function runSpiceConsole(client: ApiClient, vmName: string, opts: SpiceConsoleOptions = {}): Promise<void> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const vm = await client.vms.get(vmName);
  if (!vm.spice) throw new HangarError('CONSOLE_UNAVAILABLE', `VM "${vm.name}" has no SPICE display: create VMs with --spice to have one.`);
  if (!['running', 'paused', 'starting'].includes(vm.state)) throw new HangarError('VM_STATE', `VM "${vm.name}" is ${vm.state}: start it to use its SPICE display.`);

  const password = newSpicePassword();
  const connections = new Set<Socket>();
  const reported = new Set<string>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => connections.delete(socket));
    void gateSpiceConnection(socket, {
      password,
      upstream: () => spiceStream(client, vm.name),
      onError: (e) => {
        const text = e instanceof HangarError ? `${e.code}: ${e.message}` : errorText(e);
        // Every channel of a viewer fails alike: say it once.
        if (!reported.has(text)) stderr.write(`warning: a SPICE connection failed: ${text}\n`);
        reported.add(text);
      },
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: NodeJS.ErrnoException) => {
    throw new HangarError('PORT_IN_USE', `Cannot listen on 127.0.0.1:${opts.port ?? 0} (${e.code ?? e.message}): pick another --port, or 0 for any free one.`);
  });
  const port = (server.address() as { port: number }).port;

  // A directory only this user can read: the file holds the password.
  const dir = await mkdtemp(join(tmpdir(), 'hangar-spice-'));
  const file = join(dir, `${vm.name}.vv`);
  const stop = new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    void opts.until?.then(done);
  });
  let viewer: ChildProcess | undefined;
  try {
    await writeFile(file, renderVvFile({
      type: 'spice', host: '127.0.0.1', port, password, title: `${vm.name} (Hangar)`, deleteThisFile: true,
      releaseCursor: 'shift+f12', toggleFullscreen: 'shift+f11', secureAttention: 'ctrl+alt+end',
    }), { mode: 0o600, flag: 'wx' });
    const info = { vm: vm.name, host: '127.0.0.1', port, file };
    if (opts.output === 'json') {
      stdout.write(`${JSON.stringify(info)}\n`);
    } else if (opts.output === 'yaml') {
      stdout.write(render('yaml', info, () => ''));
    } else {
      stdout.write(`SPICE display of ${vm.name} on 127.0.0.1:${port} (the password is in the connection file).\n`);
      stdout.write(`Connection file: ${file}\n`);
      stdout.write(`Open it with:    remote-viewer ${file}\n`);
      stdout.write('(remote-viewer deletes the file once it has read it.) Ctrl-C ends the console.\n');
    }
    if (opts.open) {
      viewer = spawn(opts.viewer ?? 'remote-viewer', [file], { stdio: 'ignore' });
      viewer.on('error', (e: NodeJS.ErrnoException) => {
        stderr.write(e.code === 'ENOENT'
          ? `warning: ${opts.viewer ?? 'remote-viewer'} is not installed (Debian: apt-get install virt-viewer); open ${file} with a SPICE client.\n`
          : `warning: could not start ${opts.viewer ?? 'remote-viewer'}: ${e.message}\n`);
      });
    }
    await stop;
  } finally {
    // The viewer this started goes with it (Ctrl-C in a terminal reaches both anyway).
    if (viewer && viewer.exitCode === null && viewer.signalCode === null) viewer.kill('SIGTERM');
    server.close();
    for (const s of connections) s.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The VM's SPICE WebSocket as a byte stream, once it is open. */
async function spiceStream(client: ApiClient, vm: string): Promise<Duplex> {
  const ws = await client.consoleWebSocket(vm, { type: 'spice' });
  await opened(ws);
  return createWebSocketStream(ws);
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      ws.removeListener('open', onOpen);
      ws.removeListener('error', onError);
      ws.removeListener('unexpected-response', onRefused);
    };
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onRefused = (_req: unknown, res: IncomingMessage) => {
      cleanup();
      void refusedUpgrade(res, 'the SPICE WebSocket').then(reject);
      ws.on('error', () => undefined);
      ws.terminate();
    };
    ws.on('open', onOpen);
    ws.on('error', onError);
    ws.on('unexpected-response', onRefused);
  });
}
