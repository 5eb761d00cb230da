/**
 * The log process: `node dist/bundle/logd.cjs --run-dir DIR --max-size BYTES --max-backups N`,
 * started (detached, in a session of its own) by the daemon, and left running when the daemon
 * ends, so that guests' serial and QEMU logs stay capped while no daemon runs. One per run dir:
 * a second one exits at once. Small on purpose: Node's own modules and two of Hangar's.
 */
import { connect } from 'node:net';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isSameLiveProcess, readProcStat } from '../util/proc.js';
import { logdDir, logdFiles, type LogdState } from './files.js';
import { RotatingLog } from './rotating.js';
import { LogServer } from './server.js';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** True when something answers on the socket (another logd). */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function main(argv: string[]): Promise<void> {
  const runDir = arg(argv, '--run-dir');
  const maxSize = Number(arg(argv, '--max-size'));
  const maxBackups = Number(arg(argv, '--max-backups'));
  if (!runDir || !Number.isInteger(maxSize) || maxSize < 1 || !Number.isInteger(maxBackups) || maxBackups < 0) {
    process.stderr.write('usage: logd --run-dir DIR --max-size BYTES --max-backups N\n');
    process.exit(2);
  }
  const files = logdFiles(runDir);
  mkdirSync(logdDir(runDir), { recursive: true, mode: 0o700 });
  const own = new RotatingLog(files.log, { maxSize: 256 * 1024, maxBackups: 1 });
  const log = (m: string) => {
    try {
      own.write(Buffer.from(`${new Date().toISOString()} ${m}\n`));
    } catch {
      // its own log is best effort
    }
  };
  let previous: LogdState | undefined;
  try {
    previous = JSON.parse(readFileSync(files.state, 'utf8')) as LogdState;
  } catch {
    previous = undefined;
  }
  if ((previous && previous.pid !== process.pid && isSameLiveProcess(previous.pid, previous.pidStartTime)) || (await answers(files.socket))) {
    log(`Another logd runs for ${runDir}: this one (pid ${process.pid}) exits.`);
    process.exit(0);
  }
  rmSync(files.socket, { force: true });
  const server = new LogServer({
    socket: files.socket, watchesFile: files.watches, limits: { maxSize, maxBackups }, log,
    onOrphaned: () => {
      log('logd ending: its control socket was removed.');
      process.exit(0);
    },
  });
  await server.start();
  const state: LogdState = { pid: process.pid, pidStartTime: readProcStat(process.pid)?.startTime ?? '', startedAt: new Date().toISOString(), maxSize, maxBackups };
  writeFileSync(`${files.state}.tmp`, JSON.stringify(state), { mode: 0o600 });
  renameSync(`${files.state}.tmp`, files.state);
  log(`logd started (pid ${process.pid}; files of at most ${maxSize} bytes, ${maxBackups} kept).`);
  const end = (signal: string) => {
    log(`logd ending (${signal}).`);
    void server.stop().finally(() => {
      rmSync(files.socket, { force: true });
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => end('SIGTERM'));
  process.once('SIGINT', () => end('SIGINT'));
  // Detached from any terminal: a hang-up means nothing here.
  process.on('SIGHUP', () => undefined);
}

void main(process.argv.slice(2));
