/**
 * The graphical console: noVNC over a WebSocket to the daemon (raw RFB bytes at
 * /v1/vms/NAME/vnc), scaled to the window (scaleViewport) and asking the guest to match it
 * (resizeSession); Ctrl-Alt-Del and full screen. SPICE is offered as a connection file for
 * remote-viewer (GET /v1/vms/NAME/spice.vv).
 */
import { useRef, type ReactNode } from 'react';
import RFB from '@novnc/novnc';
import { ErrorBox } from '../../components/ErrorBox';
import { download, vmPath } from '../../lib/api';
import { useAction } from '../../lib/hooks';
import { CONSOLE_STATES, useConsoleSocket } from '../../lib/useConsoleSocket';
import type { Vm } from '../../lib/types';
import { ConsoleStatus } from './ConsoleStatus';

export function VncConsole({ vm }: { vm: Vm }) {
  const spice = useAction();
  const spiceButton = vm.spice && (
    <button data-action="spice" onClick={() => void spice.run(() => download(vmPath(vm.name, '/spice.vv'), `${vm.name}.vv`))}>SPICE connection file (remote-viewer)</button>
  );
  return (
    <div className="console">
      {vm.vnc ? <VncViewer vm={vm.name} enabled={CONSOLE_STATES.includes(vm.state)}>{spiceButton}</VncViewer> : (
        <>
          <p className="muted">This VM has no VNC display (created with VNC off).</p>
          <div>{spiceButton}</div>
        </>
      )}
      <ErrorBox error={spice.error} onClose={spice.clear} />
    </div>
  );
}

function VncViewer({ vm, enabled, children }: { vm: string; enabled: boolean; children?: ReactNode }) {
  const screen = useRef<HTMLDivElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB>(undefined);

  const { status, connect } = useConsoleSocket({
    vm, type: 'vnc', enabled,
    open: (url, report) => {
      const r = new RFB(screen.current!, url, { shared: true });
      r.scaleViewport = true;
      r.resizeSession = true;
      r.background = '#111';
      r.addEventListener('connect', () => {
        report({ state: 'open' });
        r.focus();
      });
      r.addEventListener('disconnect', (e) => {
        const clean = (e as CustomEvent<{ clean: boolean }>).detail.clean;
        report({ state: 'closed', detail: clean ? 'disconnected' : 'refused or dropped' });
      });
      rfb.current = r;
      return {
        close: () => {
          if (rfb.current === r) rfb.current = undefined;
          try {
            r.disconnect();
          } catch {
            // already closed
          }
        },
      };
    },
  });

  return (
    <>
      <ConsoleStatus status={status} onReconnect={connect}>
        {!enabled && <span className="muted small">The VM is not running: the display connects when it starts.</span>}
        <button data-action="ctrl-alt-del" disabled={status.state !== 'open'} onClick={() => rfb.current?.sendCtrlAltDel()}>Ctrl-Alt-Del</button>
        <button data-action="fullscreen" onClick={() => void frame.current?.requestFullscreen()}>Full screen</button>
        {children}
      </ConsoleStatus>
      {status.state === 'error' && <ErrorBox error={status.error} />}
      <div className="vnc-frame" ref={frame}>
        <div className="vnc-screen" ref={screen} data-console="vnc" />
      </div>
    </>
  );
}
