/**
 * The `ws` package, loaded on first use: most daemon starts and CLI commands open no
 * WebSocket, and evaluating `ws` was a tenth of the daemon's start-up.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerOptions, WebSocket } from 'ws';

let loaded: Promise<typeof import('ws')> | undefined;

/** The `ws` module (evaluated once, on the first call). */
export function loadWs(): Promise<typeof import('ws')> {
  return (loaded ??= import('ws'));
}

/** What the API needs of a `noServer` WebSocketServer: the upgrade of one request. */
export interface UpgradeServer {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, done: (ws: WebSocket) => void): void;
}

/** A `noServer` WebSocketServer made on the first upgrade (a socket that closes meanwhile is left alone). */
export function lazyWebSocketServer(options: Omit<ServerOptions, 'noServer'>): UpgradeServer {
  let server: InstanceType<(typeof import('ws'))['WebSocketServer']> | undefined;
  return {
    handleUpgrade(req, socket, head, done) {
      void loadWs().then(({ WebSocketServer }) => {
        if (socket.destroyed) return;
        server ??= new WebSocketServer({ ...options, noServer: true });
        server.handleUpgrade(req, socket, head, done);
      }, () => socket.destroy());
    },
  };
}
