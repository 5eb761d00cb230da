/** The frame around every page: navigation, the event stream's status, sign-out. */
import type { ReactNode } from 'react';
import { useEvents } from '../lib/events';
import { href } from '../lib/router';

const NAV: [string, string][] = [['', 'Dashboard'], ['vms', 'Virtual machines'], ['images', 'Images'], ['volumes', 'Volumes'], ['backups', 'Backups'], ['networks', 'Networks'], ['profiles', 'Profiles'], ['nodes', 'Nodes'], ['import', 'Import']];

export function Layout({ section, onSignOut, children }: { section: string; onSignOut: () => void; children: ReactNode }) {
  const { connected } = useEvents();
  return (
    <div className="app">
      <nav>
        <a className="brand" href="#/">Hangar</a>
        {NAV.map(([path, label]) => (
          <a key={path} href={path ? href(path) : '#/'} className={section === path ? 'active' : ''}>{label}</a>
        ))}
        <div className="spacer" />
        <span className={`live ${connected ? 'on' : 'off'}`} title="the daemon's event stream">{connected ? '● live' : '○ reconnecting'}</span>
        <button className="link" onClick={onSignOut}>Sign out</button>
      </nav>
      <main>{children}</main>
    </div>
  );
}
