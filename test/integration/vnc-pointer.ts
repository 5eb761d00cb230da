/**
 * Test helper: asks a VM's VNC server whether its pointer is absolute (a tablet the guest
 * drives) or relative (a PS/2 mouse), as QEMU tells a client that asks.
 */
import { createConnection } from 'node:net';

/**
 * An RFB client just far enough to learn the pointer mode: it asks for QEMU's
 * "pointer motion change" pseudo-encoding (-257), which the server answers with a rectangle
 * whose x is 1 for an absolute pointer (a tablet) and 0 for a relative one (a PS/2 mouse).
 */
export function vncPointerIsAbsolute(socketPath: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    let buf = Buffer.alloc(0);
    let stage: 'version' | 'sectypes' | 'secresult' | 'init' | 'updates' = 'version';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no pointer mode from the VNC server (stage ${stage})`));
    }, 15_000);
    const done = (value: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(value);
    };
    s.on('error', reject);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (stage === 'version') {
          if (buf.length < 12) return;
          buf = buf.subarray(12);
          s.write('RFB 003.008\n');
          stage = 'sectypes';
        } else if (stage === 'sectypes') {
          if (buf.length < 1 || buf.length < 1 + buf[0]!) return;
          const types = [...buf.subarray(1, 1 + buf[0]!)];
          buf = buf.subarray(1 + buf[0]!);
          if (!types.includes(1)) return reject(new Error(`VNC offers no None security (${types.join(',')})`));
          s.write(Buffer.from([1]));
          stage = 'secresult';
        } else if (stage === 'secresult') {
          if (buf.length < 4) return;
          buf = buf.subarray(4);
          s.write(Buffer.from([1])); // ClientInit: shared
          stage = 'init';
        } else if (stage === 'init') {
          if (buf.length < 24) return;
          const nameLen = buf.readUInt32BE(20);
          if (buf.length < 24 + nameLen) return;
          const width = buf.readUInt16BE(0);
          const height = buf.readUInt16BE(2);
          buf = buf.subarray(24 + nameLen);
          const enc = Buffer.alloc(4 + 8);
          enc.writeUInt8(2, 0); // SetEncodings
          enc.writeUInt16BE(2, 2);
          enc.writeInt32BE(0, 4); // raw
          enc.writeInt32BE(-257, 8); // QEMU pointer motion change
          const req = Buffer.alloc(10);
          req.writeUInt8(3, 0); // FramebufferUpdateRequest, not incremental
          req.writeUInt16BE(width, 6);
          req.writeUInt16BE(height, 8);
          s.write(Buffer.concat([enc, req]));
          stage = 'updates';
        } else {
          // FramebufferUpdate: type 0, pad, count; rectangles x,y,w,h,encoding. The pointer
          // rectangle comes first here; raw pixel data after it is never parsed.
          if (buf.length < 4) return;
          if (buf[0] !== 0) return reject(new Error(`unexpected VNC message type ${buf[0]}`));
          if (buf.length < 16) return;
          const encoding = buf.readInt32BE(12);
          if (encoding === -257) return done(buf.readUInt16BE(4) === 1);
          return reject(new Error(`first rectangle has encoding ${encoding}, not the pointer mode`));
        }
      }
    });
  });
}
