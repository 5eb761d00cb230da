/**
 * The graphical consoles: WebSockets carrying raw VNC (`/v1/vms/{name}/vnc`, for noVNC) and
 * SPICE (`/v1/vms/{name}/spice`, for spice-html5 and `hangar console --spice`), each joined to
 * a fresh connection to QEMU's display socket; and remote-viewer connection files for SPICE
 * (`GET /v1/vms/{name}/spice.vv`), each with a TCP port and a password of its own.
 *
 * Who may connect is decided before these handlers run: on the unix socket anyone who can
 * open it (as for the serial console); on the TLS listener a WebSocket needs a single-use
 * console token of the right VM and type and a good Origin (src/auth/transport.ts), and the
 * connection file needs an operator's token (src/auth/policy.ts).
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { lazyWebSocketServer } from '../../util/lazy-ws.js';
import { ERROR_CATALOGUE, HangarError } from '../../errors/errors.js';
import { bridgeDisplay, type DisplayBridge } from '../../console/display-bridge.js';
import { connectUnix, SPICE_PORT_IDLE_MS, SpicePorts } from '../../console/spice-proxy.js';
import { renderVvFile, spiceSubject, VV_MEDIA_TYPE } from '../../console/vv-file.js';
import type { VmRecord } from '../../store/store.js';
import { isActive, type VmState } from '../../model/states.js';
import { VmNameParam } from '../../contract/index.js';
import type { ApiDeps } from '../server.js';
import { toErrorBody } from '../server.js';

export type DisplayType = 'vnc' | 'spice';

export interface DisplayConsoles {
  /** Takes over a WebSocket upgrade for a VM's VNC or SPICE display (already authorized). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, vm: string, type: DisplayType): void;
}

const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerConsoleRoutes(app: FastifyInstance, deps: ApiDeps): DisplayConsoles {
  // Viewer → QEMU messages are input events and clipboard data: small.
  const wss = lazyWebSocketServer({ maxPayload: 4 * 1024 * 1024 });
  const bridges = new Map<string, Set<DisplayBridge>>();
  const spicePorts = new SpicePorts({ log: (m) => app.log.warn(m) });

  // A VM that stops takes its viewers and SPICE ports with it (QEMU closing its sockets would
  // end the viewers too; this also says why, and closes ports nobody is connected to).
  const unsubscribe = deps.events?.subscribe((e) => {
    if (e.vm === undefined) return;
    const state = (e.data as { state?: VmState }).state;
    const gone = e.type === 'vm.deleted' || e.type === 'vm.crashed' || (e.type === 'vm.state' && state !== undefined && !isActive(state));
    if (!gone) return;
    for (const b of bridges.get(e.vm) ?? []) b.close(1000, 'the VM stopped');
    spicePorts.closeVm(e.vm);
  });
  app.addHook('preClose', async () => {
    unsubscribe?.();
    spicePorts.closeAll();
    const all = [...bridges.values()].flatMap((s) => [...s]);
    for (const b of all) b.close(1001, 'the daemon is stopping');
    await Promise.race([Promise.all(all.map((b) => b.closed)), new Promise((r) => setTimeout(r, 2000).unref())]);
  });

  const socketOf = async (vm: string, type: DisplayType): Promise<{ rec: VmRecord; path: string }> => {
    const rec = await deps.vms.record(vm);
    return { rec, path: displaySocket(deps, rec, type) };
  };

  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/spice.vv',
    {
      // A HEAD would open a port whose password nobody gets.
      exposeHeadRoute: false,
      schema: {
        tags: ['vms'],
        summary: `A remote-viewer connection file for the VM's SPICE display: a TCP port opened for it with a password of its own (over the TLS listener: on the listener's address, with TLS and the certificate in the file; on the unix socket: 127.0.0.1). The port closes ${SPICE_PORT_IDLE_MS / 1000} s after it was opened or last used, and when the VM stops. CONSOLE_UNAVAILABLE when the VM has no SPICE display.`,
        params: VmNameParam,
        response: {
          200: { description: 'The connection file (open it with `remote-viewer FILE`; it deletes itself once read).', content: { [VV_MEDIA_TYPE]: { schema: { type: 'string' } } } },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const { rec, path } = await socketOf(req.params.name, 'spice');
      const raw = req.raw.socket as Partial<TLSSocket>;
      const tls = raw.encrypted === true ? deps.auth?.tls : undefined;
      let bind = '127.0.0.1';
      let host = '127.0.0.1';
      if (raw.remoteAddress !== undefined && raw.localAddress) {
        bind = unmapIpv4(raw.localAddress);
        host = hostOf(req.headers.host) ?? bind;
      }
      const material = tls?.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : undefined;
      const opened = await spicePorts.open({ vm: rec.name, vmId: rec.id, socketPath: path, bind, ...(material && { tls: material }) });
      const file = renderVvFile({
        type: 'spice', host, ...(opened.tls ? { tlsPort: opened.port, ...certificateFields(material!.cert) } : { port: opened.port }),
        password: opened.password, title: `${rec.name} (Hangar)`, deleteThisFile: true,
        releaseCursor: 'shift+f12', toggleFullscreen: 'shift+f11', secureAttention: 'ctrl+alt+end',
      });
      return reply
        .header('content-disposition', `attachment; filename="${rec.name}.vv"`)
        .header('cache-control', 'no-store')
        .type(VV_MEDIA_TYPE)
        .send(file);
    },
  );

  const refuse = (socket: Duplex, e: unknown) => {
    const body = toErrorBody(e);
    const json = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${ERROR_CATALOGUE[body.code].status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`);
  };

  return {
    upgrade(req, socket, head, vm, type) {
      void (async () => {
        try {
          const { rec, path } = await socketOf(vm, type);
          const upstream = await connectUnix(path).catch((e: NodeJS.ErrnoException) => {
            throw new HangarError('CONSOLE_UNAVAILABLE', `The ${type.toUpperCase()} display of VM "${rec.name}" does not answer (${e.code ?? e.message}); is the VM still starting?`);
          });
          // The viewer may have gone while QEMU was being reached.
          if (socket.destroyed) {
            upstream.destroy();
            return;
          }
          wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
            const bridge = bridgeDisplay(ws, upstream);
            let set = bridges.get(rec.name);
            if (!set) bridges.set(rec.name, (set = new Set()));
            set.add(bridge);
            void bridge.closed.then(() => {
              set.delete(bridge);
              if (set.size === 0 && bridges.get(rec.name) === set) bridges.delete(rec.name);
            });
          });
        } catch (e) {
          refuse(socket, e);
        }
      })();
    },
  };
}

/** The socket of a VM's display, or why it has none now. */
export function displaySocket(deps: Pick<ApiDeps, 'vms'>, rec: VmRecord, type: DisplayType): string {
  const has = type === 'vnc' ? rec.spec.vnc : rec.spec.spice === true;
  if (!has) {
    throw new HangarError('CONSOLE_UNAVAILABLE', type === 'vnc'
      ? `VM "${rec.name}" has no VNC display (it was created with --no-vnc / vnc: false).`
      : `VM "${rec.name}" has no SPICE display: create VMs with --spice (API: spice: true) to have one.`);
  }
  if (!rec.runtime || !isActive(rec.state)) throw new HangarError('VM_STATE', `VM "${rec.name}" is ${rec.state}: start it to use its ${type === 'vnc' ? 'VNC' : 'SPICE'} display.`);
  const paths = deps.vms.pathsOf(rec);
  const path = type === 'vnc' ? paths.vncSocket : paths.spiceSocket;
  if (path === undefined) throw new HangarError('INTERNAL', `VM "${rec.name}" has no ${type} socket path`);
  return path;
}

/** `::ffff:10.0.0.5` → `10.0.0.5` (a dual-stack listener's view of an IPv4 peer). */
function unmapIpv4(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1]! : addr;
}

/** The host name the client used (the Host header, without port or brackets), if it is a plain name or IP. */
function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    const h = new URL(`https://${header}`).hostname.replace(/^\[(.*)\]$/, '$1');
    return isIP(h) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(h) ? h : undefined;
  } catch {
    return undefined;
  }
}

const certFields = new Map<string, { ca?: string; hostSubject?: string }>();

/**
 * What remote-viewer needs to trust the port: its certificate's subject (checked instead of
 * the host name), and the certificate itself as the CA when it is self-signed (the daemon's
 * default). A certificate from a CA is trusted through the viewer's own CA store.
 */
function certificateFields(pem: string): { ca?: string; hostSubject?: string } {
  let f = certFields.get(pem);
  if (!f) {
    const x = new X509Certificate(pem);
    const selfSigned = x.subject === x.issuer && x.verify(x.publicKey);
    f = { hostSubject: spiceSubject(x.subject), ...(selfSigned && { ca: x.toString() }) };
    certFields.set(pem, f);
  }
  return f;
}
