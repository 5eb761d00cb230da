/**
 * Calls into the guest through qemu-guest-agent: one client per VM (the channel serves one
 * client at a time), asked only when QEMU says an agent has the channel open.
 */
import { HangarError } from '../errors/errors.js';
import { GuestAgent } from '../qga/index.js';
import type { QmpClient } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';

export interface GuestAgentsDeps {
  /** The agent's socket of a VM. */
  socketOf: (rec: VmRecord) => string;
  /** The VM's live monitor (by id), if it has one. */
  monitor: (id: string) => QmpClient | undefined;
}

export class GuestAgents {
  private readonly agents = new Map<string, GuestAgent>();

  constructor(private readonly deps: GuestAgentsDeps) {}

  /** The VM's guest agent client (the guest may not run an agent: calls then fail with AGENT_UNAVAILABLE). */
  agentFor(rec: VmRecord): GuestAgent {
    let agent = this.agents.get(rec.id);
    if (!agent) {
      agent = new GuestAgent(this.deps.socketOf(rec), { timeoutMs: 10_000 });
      this.agents.set(rec.id, agent);
    }
    return agent;
  }

  /**
   * Whether an agent has the channel open in the guest (QEMU knows: the port's frontend is
   * open). Asked before any agent call, so a guest without an agent costs one QMP round trip,
   * not a timeout.
   */
  async agentPresent(rec: VmRecord): Promise<boolean> {
    const qmp = this.deps.monitor(rec.id);
    if (!qmp) return false;
    try {
      const chardevs = await qmp.execute<Array<{ label: string; 'frontend-open': boolean }>>('query-chardev');
      return chardevs.some((c) => c.label === 'qga0' && c['frontend-open']);
    } catch {
      return false;
    }
  }

  /** Drops the VM's client (its QEMU has ended). */
  close(id: string): void {
    void this.agents.get(id)?.close();
    this.agents.delete(id);
  }

  /** Runs a command in the guest through its agent. */
  async exec(rec: VmRecord, argv: string[], opts: { input?: string; timeoutSeconds?: number } = {}): Promise<{ exitCode: number; stdout: string; stderr: string; signal?: number }> {
    if (rec.state !== 'running') throw new HangarError('VM_STATE', `VM "${rec.name}" is ${rec.state}: exec needs a running guest with qemu-guest-agent.`);
    if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new HangarError('INVALID_SPEC', 'Give the command as a non-empty list of arguments, e.g. ["uname", "-r"].');
    }
    // Agent failures convert themselves to catalogue errors at the API boundary (GuestAgentError.toHangarError).
    return this.agentFor(rec).exec(argv, { ...(opts.input !== undefined && { input: opts.input }), timeoutMs: (opts.timeoutSeconds ?? 60) * 1000 });
  }

  /** What the agent knows: OS and network interfaces (with addresses). */
  async guestInfo(rec: VmRecord): Promise<{ agent: boolean; os?: unknown; interfaces?: unknown[]; ips: string[] }> {
    if (rec.state !== 'running') return { agent: false, ips: [] };
    const agent = this.agentFor(rec);
    if (!(await this.agentPresent(rec)) || !(await agent.ping(3000))) return { agent: false, ips: [] };
    const [os, interfaces] = await Promise.all([agent.osInfo(), agent.interfaces()]);
    const ips = interfaces
      .filter((i) => i.name !== 'lo')
      .flatMap((i) => i.addresses)
      .filter((a) => !a.ip.startsWith('fe80:') && !a.ip.startsWith('127.'))
      .map((a) => a.ip);
    return { agent: true, os, interfaces, ips };
  }
}

