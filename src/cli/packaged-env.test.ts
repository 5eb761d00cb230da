/**
 * The Debian package's settings file (packaging/hangar.env, /etc/hangar/hangar.env) and units
 * (packaging/systemd/): every `hangar daemon` flag has a variable there, and the units keep
 * guests out of the daemon's stops.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProgram } from './program.js';
import { resolveDaemonConfig } from '../daemon/config.js';

const root = join(import.meta.dirname, '..', '..');
const envFile = readFileSync(join(root, 'packaging', 'hangar.env'), 'utf8');
const unit = (name: string) => readFileSync(join(root, 'packaging', 'systemd', name), 'utf8');

/** Each daemon flag (and the global --socket) with the variable its help names. */
function daemonFlags(): Array<{ flag: string; env: string | undefined }> {
  const program = createProgram();
  const daemon = program.commands.find((c) => c.name() === 'daemon')!;
  const options = [...program.options.filter((o) => o.long === '--socket'), ...daemon.options];
  return options.map((o) => ({ flag: o.long!, env: /\benv (HANGAR_[A-Z0-9_]+)/.exec(o.description)?.[1] }));
}

describe('packaging/hangar.env', () => {
  it('has a line for the variable of every daemon flag', () => {
    const flags = daemonFlags();
    expect(flags.length).toBeGreaterThan(15);
    for (const { flag, env } of flags) {
      expect(env, `${flag}: its help names no env HANGAR_... variable`).toBeDefined();
      expect(envFile, `${flag}: no ${env}= line in packaging/hangar.env`).toMatch(new RegExp(`^#?${env}=`, 'm'));
    }
  });

  it('documents the shutdown of guests (hangar-guests.service)', () => {
    expect(envFile).toMatch(/^#?HANGAR_SHUTDOWN_GUESTS_MODE=(stop|save)$/m);
    expect(envFile).toMatch(/^#?HANGAR_SHUTDOWN_GUESTS_TIMEOUT=\d+$/m);
  });

  it('holds settings the daemon accepts (the commented defaults too)', () => {
    const vars: Record<string, string> = {};
    for (const line of envFile.split('\n')) {
      const m = /^#?(HANGAR_[A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) vars[m[1]!] = m[2]!;
    }
    const config = resolveDaemonConfig({}, vars);
    expect(config.logDir).toBe('/var/log/hangar');
    expect(config.buildImages).toBe(true);
    expect(resolveDaemonConfig({}, { HANGAR_BUILD_IMAGES: '0' }).buildImages).toBe(false);
    expect(resolveDaemonConfig({}, {}).logDir).toBe('/var/lib/hangar/logs');
    expect(resolveDaemonConfig({ logDir: '/srv/logs' }, { HANGAR_LOG_DIR: '/x' }).logDir).toBe('/srv/logs');
  });
});

describe('packaging/systemd', () => {
  it('hangar.service never signals a guest and keeps /run/hangar', () => {
    const u = unit('hangar.service');
    expect(u).toMatch(/^KillMode=process$/m);
    expect(u).toMatch(/^EnvironmentFile=-\/etc\/hangar\/hangar\.env$/m);
    expect(u).toMatch(/^ExecStart=\/usr\/bin\/hangar daemon$/m);
    expect(u).not.toMatch(/^RuntimeDirectory=/m);
    // A daemon refused for a store newer than it (exit status 78) is not started again and again.
    expect(u).toMatch(/^RestartPreventExitStatus=78$/m);
  });

  it('hangar-guests.service is not restarted with the daemon', () => {
    const u = unit('hangar-guests.service');
    expect(u).toMatch(/^Type=oneshot$/m);
    expect(u).toMatch(/^RemainAfterExit=yes$/m);
    expect(u).toMatch(/^After=.*\bhangar\.service\b/m);
    // Requires=, BindsTo= and PartOf= pass a restart of hangar.service on to this unit, whose stop shuts guests down.
    expect(u).not.toMatch(/^(Requires|BindsTo|PartOf)=.*hangar\.service/m);
    expect(u).toMatch(/^ExecStop=\/usr\/bin\/hangar host shutdown-guests$/m);
  });
});
