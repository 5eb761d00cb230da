// Hangar's own save sink (dist/migration/stream.js `SaveSink`: unix socket → byte counter →
// file, fsync, rename) in a process of its own, for the save-restore benchmark: the daemon's
// socket → file copy without the daemon around it.
//
//   node save-sink.mjs ROOT SOCKET FILE [daemon-heap]
//
// Listens on SOCKET, prints "listening", takes one connection into FILE.partial, fsyncs and
// renames it to FILE, then prints one JSON line {bytes}. With `daemon-heap`, V8 gets the flags
// bin/hangar gives the daemon (a 1 MiB young generation), set the same way before anything loads.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

const [root, socket, file, heap] = process.argv.slice(2);
if (heap === 'daemon-heap') {
  setFlagsFromString('--max-semi-space-size=1');
  setFlagsFromString('--semi-space-growth-factor=1');
}
const { SaveSink } = await import(pathToFileURL(join(root, 'dist', 'migration', 'stream.js')).href);
const sink = await SaveSink.listen(socket, `${file}.partial`);
process.stdout.write('listening\n');
try {
  const bytes = await sink.finished;
  await sink.commit(file);
  process.stdout.write(`${JSON.stringify({ bytes })}\n`);
} catch (e) {
  await sink.abort();
  process.stderr.write(`save-sink: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
