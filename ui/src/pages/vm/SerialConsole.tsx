/** The serial console: xterm.js over a WebSocket to the daemon (binary frames both ways). */
import { useEffect, useRef } from 'react';
import { Terminal } from '@xterm/xterm';
import { AttachAddon } from '@xterm/addon-attach';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { ErrorBox } from '../../components/ErrorBox';
import { CONSOLE_STATES, useConsoleSocket } from '../../lib/useConsoleSocket';
import type { Vm } from '../../lib/types';
import { ConsoleStatus } from './ConsoleStatus';

export function SerialConsole({ vm }: { vm: Vm }) {
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal>(undefined);

  useEffect(() => {
    const t = new Terminal({ convertEol: false, cursorBlink: true, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14, scrollback: 5000 });
    const fit = new FitAddon();
    t.loadAddon(fit);
    t.open(box.current!);
    fit.fit();
    term.current = t;
    const ro = new ResizeObserver(() => fit.fit());
    ro.observe(box.current!);
    return () => {
      ro.disconnect();
      t.dispose();
      term.current = undefined;
    };
  }, []);

  const enabled = CONSOLE_STATES.includes(vm.state);
  const { status, connect } = useConsoleSocket({
    vm: vm.name, type: 'serial', enabled, extraQuery: '&replay=1',
    open: (url, report) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      const attach = new AttachAddon(ws);
      ws.addEventListener('open', () => {
        term.current?.loadAddon(attach);
        term.current?.focus();
        report({ state: 'open' });
      });
      ws.addEventListener('close', (e) => {
        attach.dispose();
        report({ state: 'closed', detail: e.reason || (e.code === 1006 ? 'refused or dropped' : `code ${e.code}`) });
      });
      return ws;
    },
  });

  return (
    <div className="console">
      <ConsoleStatus status={status} onReconnect={connect}>
        <span className="muted small">{enabled ? "Type in the terminal; the guest's serial port gets every key." : `The VM is ${vm.state}: the console connects when it starts.`}</span>
      </ConsoleStatus>
      {status.state === 'error' && <ErrorBox error={status.error} />}
      <div className="terminal" ref={box} data-console="serial" />
    </div>
  );
}
