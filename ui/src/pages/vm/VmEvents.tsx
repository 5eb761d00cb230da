/** This VM's events: its recent history, then live from the shared stream. */
import { useState } from 'react';
import { EventList } from '../../components/EventList';
import { ErrorBox } from '../../components/ErrorBox';
import { useEventListener } from '../../lib/events';
import { useApi } from '../../lib/hooks';
import type { HangarEvent, Vm } from '../../lib/types';

export function VmEvents({ vm }: { vm: Vm }) {
  const history = useApi<HangarEvent[]>(`/v1/events?vm=${encodeURIComponent(vm.name)}&limit=100`);
  const [live, setLive] = useState<HangarEvent[]>([]);
  useEventListener((e) => {
    if (e.vm === vm.name) setLive((l) => [e, ...l]);
  });
  const seen = new Set(live.map((e) => e.seq));
  const all = [...live, ...[...(history.data ?? [])].reverse().filter((e) => !seen.has(e.seq))];
  return (
    <>
      <ErrorBox error={history.error} />
      <EventList events={all} showVm={false} />
    </>
  );
}
