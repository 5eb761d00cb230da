/** Following an operation from the CLI: a progress bar on a terminal, plain lines otherwise. */
import cliProgress from 'cli-progress';
import { HangarError, type ErrorCode } from '../errors/errors.js';
import type { ApiClient } from '../client/index.js';
import type { Operation } from '../contract/index.js';

/**
 * Shows an operation's progress until it ends. With `cancelOnInterrupt`, Ctrl-C cancels the
 * operation (DELETE /v1/operations/:id) and the CLI waits for it to end as cancelled.
 */
export async function followOperation(client: ApiClient, op: Operation, label: string, opts: { cancelOnInterrupt?: boolean; details?: boolean } = {}): Promise<Operation> {
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty ? new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {phase}${opts.details ? ' {message}' : ''}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(100, 0, { phase: '', message: '' });
  const onInterrupt = () => {
    process.stderr.write(`\n${label}: cancelling…\n`);
    void client.operations.cancel(op.id).catch(() => undefined);
  };
  if (opts.cancelOnInterrupt) process.on('SIGINT', onInterrupt);
  let lastPrinted = -10;
  let current = op;
  try {
    while (current.state === 'running') {
      await new Promise((r) => setTimeout(r, 200));
      current = await client.operations.get(current.id, { wait: 1 });
      const pct = Math.floor(current.progress.percent ?? 0);
      if (bar) bar.update(pct, { phase: current.progress.phase ?? '', message: current.progress.message ?? '' });
      else if (pct >= lastPrinted + 10 || current.state !== 'running') {
        lastPrinted = pct;
        const detail = opts.details && current.progress.message ? `: ${current.progress.message}` : '';
        process.stderr.write(`${label}: ${pct}%${current.progress.phase ? ` (${current.progress.phase}${detail})` : ''}\n`);
      }
    }
  } finally {
    bar?.stop();
    if (opts.cancelOnInterrupt) process.off('SIGINT', onInterrupt);
  }
  if (current.state !== 'succeeded') {
    const code = (current.error?.code ?? 'INTERNAL') as ErrorCode;
    throw new HangarError(code, current.error?.message ?? `${label} ${current.state}`);
  }
  return current;
}
