/**
 * A graphical console WebSocket (VNC for noVNC, SPICE for spice-html5) joined to its own
 * connection to QEMU's display socket: raw protocol bytes both ways, in binary frames. QEMU
 * serves many VNC and SPICE clients at once, so every viewer gets a connection of its own
 * (unlike the serial console, whose socket takes one client and is fanned out by SerialHub).
 *
 * Flow control: QEMU's output pauses while the viewer is behind (more than HIGH_WATER bytes
 * queued on the WebSocket); the viewer's input pauses while QEMU's socket is full. Either side
 * closing closes the other: the viewer gets a normal close (1000) saying why.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export interface DisplayBridge {
  /** Ends the bridge: the viewer gets `code` and `reason`, QEMU's connection is closed. */
  close(code: number, reason: string): void;
  readonly closed: Promise<void>;
}

export function bridgeDisplay(ws: WebSocket, upstream: Socket): DisplayBridge {
  let ended = false;
  let markClosed!: () => void;
  const closed = new Promise<void>((r) => (markClosed = r));
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    upstream.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(code, reason.slice(0, 120));
      // A viewer that never answers the close handshake is cut off.
      setTimeout(() => ws.terminate(), 5_000).unref();
    }
    markClosed();
  };

  let paused = false;
  upstream.on('data', (chunk: Buffer) => {
    ws.send(chunk, { binary: true }, () => {
      if (paused && ws.bufferedAmount < LOW_WATER) {
        paused = false;
        upstream.resume();
      }
    });
    if (!paused && ws.bufferedAmount > HIGH_WATER) {
      paused = true;
      upstream.pause();
    }
  });
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!upstream.write(chunk)) {
      ws.pause();
      upstream.once('drain', () => ws.resume());
    }
  });
  upstream.on('error', () => end(1011, 'the display connection failed'));
  upstream.on('close', () => end(1000, 'the display closed (the VM stopped?)'));
  ws.on('error', () => end(1011, 'viewer error'));
  ws.on('close', () => {
    ended = true;
    upstream.destroy();
    markClosed();
  });
  return { close: end, closed };
}
