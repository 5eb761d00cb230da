/** A table of events, newest first. */
import { eventSummary, time } from '../lib/format';
import { href } from '../lib/router';
import type { HangarEvent } from '../lib/types';

export function EventList({ events, showVm = true }: { events: HangarEvent[]; showVm?: boolean }) {
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <table className="events">
      <thead>
        <tr><th>#</th><th>time</th><th>event</th>{showVm && <th>VM</th>}<th>details</th></tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.seq} data-event={e.type}>
            <td className="muted">{e.seq}</td>
            <td>{time(e.time)}</td>
            <td><code>{e.type}</code></td>
            {showVm && <td>{e.vm ? <a href={href('vms', e.vm)}>{e.vm}</a> : ''}</td>}
            <td className="details">{eventSummary(e.data)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
