import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findProcesses, isSameLiveProcess, readProc, readProcStat, stopProcess } from './proc.js';

describe('processes by /proc', () => {
  it('reads this process: state, parent, start time and argv', () => {
    const me = readProc(process.pid)!;
    expect(me).toMatchObject({ pid: process.pid, ppid: process.ppid });
    expect(me.argv[0]).toContain('node');
    expect(isSameLiveProcess(process.pid, me.startTime)).toBe(true);
    expect(isSameLiveProcess(process.pid, `${me.startTime}0`)).toBe(false);
    expect(readProcStat(2 ** 30)).toBeUndefined();
  });

  it('finds a process by its argv (empty arguments kept) and stops it, SIGKILL when SIGTERM is ignored', async () => {
    const marker = `hangar-proc-test-${process.pid}`;
    const child = spawn('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done', marker, ''], { stdio: 'ignore' });
    try {
      let found = findProcesses((argv) => argv.includes(marker));
      for (let i = 0; found.length === 0 && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 20));
        found = findProcesses((argv) => argv.includes(marker));
      }
      expect(found.map((p) => p.pid)).toEqual([child.pid]);
      expect(found[0]!.argv.slice(-2)).toEqual([marker, '']);
      const started = Date.now();
      await stopProcess(child.pid!, found[0]!.startTime, 200);
      expect(Date.now() - started).toBeLessThan(2500);
      expect(isSameLiveProcess(child.pid!, found[0]!.startTime)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
