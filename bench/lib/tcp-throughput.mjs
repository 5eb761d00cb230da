// One TCP stream's throughput, for the live-migration benchmark's link speed (run in two
// network namespaces with `ip netns exec`):
//
//   node tcp-throughput.mjs recv HOST PORT          prints "listening", takes one connection, then
//                                                   one JSON line {bytes, ms}: first byte → end of stream
//   node tcp-throughput.mjs send HOST PORT BYTES    sends BYTES (4 MiB writes, with back-pressure), then
//                                                   one JSON line {bytes, ms}: connected → closed by the peer
import { Buffer } from 'node:buffer';
import { createConnection, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';

const [mode, host, portText, bytesText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'recv') {
  const server = createServer((sock) => {
    server.close();
    let bytes = 0;
    let first;
    sock.on('data', (chunk) => {
      first ??= performance.now();
      bytes += chunk.length;
    });
    sock.on('end', () => {
      const ms = first === undefined ? 0 : performance.now() - first;
      process.stdout.write(`${JSON.stringify({ bytes, ms })}\n`);
      sock.end();
    });
    sock.on('error', (e) => {
      process.stderr.write(`recv: ${e.message}\n`);
      process.exit(1);
    });
  });
  server.listen(port, host, () => process.stdout.write('listening\n'));
} else if (mode === 'send') {
  const total = Number(bytesText);
  const chunk = Buffer.alloc(4 * 1024 * 1024, 0x5a);
  const sock = createConnection({ host, port });
  let t0;
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      if (!sock.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        sock.once('drain', pump);
        return;
      }
    }
    sock.end();
  };
  sock.on('connect', () => {
    t0 = performance.now();
    pump();
  });
  sock.on('data', () => undefined);
  sock.on('close', () => {
    process.stdout.write(`${JSON.stringify({ bytes: sent, ms: performance.now() - t0 })}\n`);
  });
  sock.on('error', (e) => {
    process.stderr.write(`send: ${e.message}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write('usage: tcp-throughput.mjs recv HOST PORT | send HOST PORT BYTES\n');
  process.exit(2);
}
