/**
 * The root of the `hangar` program: its global options, the `daemon` command, and how a
 * program runs (errors print `error: CODE: message` and exit non-zero). The bundle's entry
 * (src/cli/entry.ts) runs `hangar daemon …` with this alone: a daemon never loads the other
 * commands (src/cli/main.ts) and their modules.
 */
import { Command, Option } from 'commander';
import { DEFAULT_SOCKET, resolveDaemonConfig } from '../daemon/config.js';
import { EXIT_STATUS, errorText, isHangarError } from '../errors/errors.js';
import { VERSION } from '../version.js';

/** For a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The flags of a connection to a daemon (src/cli/remote.ts makes the client). */
export function addRemoteOptions(program: Command): Command {
  return program
    .option('--remote <url>', 'talk to a daemon over TCP instead: https://host:port (env HANGAR_URL)')
    .option('--token <token>', 'API token for --remote (env HANGAR_TOKEN; prefer the env: flags show in ps)')
    .option('--fingerprint <sha256>', "trust the daemon's certificate by its SHA-256, as `hangar host show` prints it (env HANGAR_FINGERPRINT)")
    .option('--ca <file>', "trust the daemon's certificate through this CA or certificate file, PEM (env HANGAR_CA)")
    .option('--insecure', 'do not verify the daemon\'s certificate (never on an untrusted network)');
}

/** The program with its global options and the `daemon` command; src/cli/main.ts adds the others. */
export function createProgram(): Command {
  const program = new Command('hangar')
    .description('Hangar: manage virtual machines (KVM/QEMU) on this host.')
    .version(VERSION)
    .option('--socket <path>', `daemon API socket (env HANGAR_SOCKET, default ${DEFAULT_SOCKET})`)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'));
  addRemoteOptions(program)
    .showHelpAfterError()
    .addHelpText('after', '\nExamples:\n  hangar daemon --accel tcg &\n  hangar vm create web1 --image tiny --cpus 1 --memory 256M --start\n  hangar console web1\n  hangar vm show web1 --output json');

  program
    .command('daemon')
    .description('Run the Hangar daemon in the foreground (guests keep running when it stops)')
    .option('--data-dir <dir>', 'state directory (env HANGAR_DATA_DIR, default /var/lib/hangar)')
    .option('--run-dir <dir>', 'runtime sockets and pidfiles (env HANGAR_RUN_DIR, default /run/hangar, or <data-dir>/run)')
    .option('--log-dir <dir>', "guests' serial and QEMU logs (env HANGAR_LOG_DIR, default <data-dir>/logs)")
    .option('--cache-dir <dir>', 'built images cache (env HANGAR_CACHE_DIR, default /var/cache/hangar)')
    .addOption(new Option('--accel <accel>', 'default accelerator (env HANGAR_ACCEL, default auto)').choices(['kvm', 'tcg', 'auto']))
    .option('--no-build-images', 'do not build missing built-in images at start (env HANGAR_BUILD_IMAGES=0)')
    .option('--cpu-overcommit <ratio>', 'vCPUs allowed per host CPU over all running VMs (env HANGAR_CPU_OVERCOMMIT, default 4)')
    .option('--memory-overcommit <ratio>', 'memory allowed per byte of host memory (env HANGAR_MEMORY_OVERCOMMIT, default 1)')
    .option('--reserved-memory <size>', 'host memory never given to guests, e.g. 2G (env HANGAR_RESERVED_MEMORY, default 512M)')
    .option('--net-prefix <prefix>', 'prefix of the bridges, taps and firewall tables of managed networks (env HANGAR_NET_PREFIX, default hg)')
    .option('--no-guest-users', "run guests' QEMU as the daemon's user instead of one unprivileged user per guest (env HANGAR_GUEST_USERS=0)")
    .option('--swtpm <path>', 'the swtpm binary behind vTPMs (vm create --tpm), a path or a name in PATH (env HANGAR_SWTPM; default swtpm)')
    .option('--share-root <dir>', 'a host directory virtiofs shares (vm create --share) may be in (repeatable; env HANGAR_SHARE_ROOTS, colon-separated); none: shares are refused', collect, [])
    .option('--listen <addr>', 'also serve the API and the web UI over TLS on ADDRESS:PORT, e.g. 127.0.0.1:8443 (repeatable; env HANGAR_LISTEN, comma-separated); API clients need a token', collect, [])
    .option('--tls-cert <file>', "the TLS listener's certificate, PEM (env HANGAR_TLS_CERT; default: self-signed, kept in <data-dir>/tls)")
    .option('--tls-key <file>', 'its private key, PEM (env HANGAR_TLS_KEY)')
    .option('--metrics-interval <seconds>', 'sample each running VM\'s metrics this often; 0 turns sampling off (env HANGAR_METRICS_INTERVAL, default 5)')
    .option('--metrics-history <seconds>', 'metrics history kept per VM (env HANGAR_METRICS_HISTORY, default 3600)')
    .addOption(new Option('--log-format <format>', 'daemon log lines on stderr (env HANGAR_LOG_FORMAT, default json)').choices(['json', 'pretty']))
    .option('--log-max-size <size>', "rotate each guest's serial and QEMU log at this size, e.g. 2M or 256K (env HANGAR_LOG_MAX_SIZE, default 2M; 4K to 1G)")
    .option('--log-max-backups <n>', 'rotated log files kept per guest log (env HANGAR_LOG_MAX_BACKUPS, default 3; 0 to 100)')
    .addOption(new Option('--log-level <level>', 'least severe level logged (env HANGAR_LOG_LEVEL, default info)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']))
    .action(async (opts: { dataDir?: string; runDir?: string; logDir?: string; cacheDir?: string; accel?: string; buildImages: boolean; cpuOvercommit?: string; memoryOvercommit?: string; reservedMemory?: string; netPrefix?: string; listen: string[]; tlsCert?: string; tlsKey?: string; metricsInterval?: string; metricsHistory?: string; logFormat?: string; logLevel?: string; guestUsers: boolean; swtpm?: string; shareRoot: string[]; logMaxSize?: string; logMaxBackups?: string }, cmd: Command) => {
      const { runDaemon } = await import('../daemon/daemon.js');
      const g = cmd.optsWithGlobals<{ socket?: string }>();
      // --no-guest-users turns it off; without the flag the environment may (commander defaults it to true).
      const { guestUsers, buildImages, ...rest } = opts;
      const config = resolveDaemonConfig({ ...rest, ...(!guestUsers && { guestUsers: false }), ...(!buildImages && { buildImages: false }), ...(g.socket !== undefined && { socket: g.socket }) });
      const daemon = await runDaemon(config);
      const shutdown = () => {
        void daemon.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    });
  return program;
}

/** Parses `argv` and runs the command; reports errors (commander's own, HangarError, others) and sets the exit code. */
export async function runProgram(program: Command, argv: string[]): Promise<void> {
  program.exitOverride();
  // `hangar vm list | head`: the reader went away; stop quietly, as other Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      process.exitCode = ce.exitCode ?? 2;
      return;
    }
    if (isHangarError(e)) {
      process.stderr.write(`error: ${e.code}: ${e.message}\n`);
    } else {
      process.stderr.write(`error: INTERNAL: ${errorText(e)}\n`);
    }
    process.exitCode = (isHangarError(e) && EXIT_STATUS[e.code]) || 1;
  }
}
