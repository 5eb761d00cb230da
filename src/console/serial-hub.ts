/**
 * SerialHub: the daemon's one connection to a guest's serial console socket, fanned
 * out to any number of viewers. QEMU's socket chardev serves one client at a time, so
 * viewers never talk to QEMU directly. Recent output is kept in a bounded buffer for
 * viewers that ask for a replay.
 */
import { connect, type Socket } from 'node:net';

export interface SerialViewer {
  onData(data: Buffer): void;
  onClose(reason: string): void;
}

export interface SerialAttachment {
  write(data: Buffer | string): void;
  detach(): void;
}

export class SerialHub {
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private readonly viewers = new Set<SerialViewer>();
  private recent: Buffer[] = [];
  private recentBytes = 0;

  constructor(private readonly socketPath: string, private readonly bufferBytes = 64 * 1024) {}

  /** Attaches a viewer, connecting to QEMU if this is the first. Rejects if the socket is not there. */
  async attach(viewer: SerialViewer, opts: { replay?: boolean } = {}): Promise<SerialAttachment> {
    await this.ensureConnected();
    if (opts.replay) for (const chunk of this.recent) viewer.onData(chunk);
    this.viewers.add(viewer);
    return {
      write: (data) => {
        this.socket?.write(data);
      },
      detach: () => {
        this.viewers.delete(viewer);
      },
    };
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Drops the QEMU connection and tells every viewer why. */
  close(reason = 'console closed'): void {
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
    for (const v of this.viewers) v.onClose(reason);
    this.viewers.clear();
  }

  private ensureConnected(): Promise<void> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve();
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const s = connect(this.socketPath);
      s.once('connect', () => {
        this.socket = s;
        this.connecting = undefined;
        resolve();
      });
      s.once('error', (e) => {
        this.connecting = undefined;
        if (this.socket !== s) reject(e);
      });
      s.on('data', (chunk: Buffer) => this.deliver(chunk));
      s.on('close', () => {
        if (this.socket === s) this.close('the guest console went away (VM stopped)');
      });
    });
    return this.connecting;
  }

  private deliver(chunk: Buffer): void {
    this.recent.push(chunk);
    this.recentBytes += chunk.length;
    while (this.recentBytes > this.bufferBytes && this.recent.length > 1) {
      this.recentBytes -= this.recent.shift()!.length;
    }
    for (const v of this.viewers) {
      try {
        v.onData(chunk);
      } catch {
        // One broken viewer must not starve the others.
      }
    }
  }
}
