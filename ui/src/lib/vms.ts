/**
 * The VM list, kept live by the event stream: a `vm.*` event patches the VM's state at once
 * (when the event carries one) and re-reads that one VM; no timer polls the list.
 */
import { useCallback, useEffect, useRef } from 'react';
import { api, vmPath } from './api';
import { useEventListener } from './events';
import { useApi } from './hooks';
import type { HangarEvent, Vm, VmState } from './types';

/** The state a VM's event carries (vm.state, vm.crashed, vm.adopted: one of the daemon's VM states). */
function stateOf(e: HangarEvent): VmState | undefined {
  return typeof e.data.state === 'string' ? (e.data.state as VmState) : undefined;
}

export function applyVmEvent(list: Vm[], e: HangarEvent): Vm[] {
  if (!e.vm) return list;
  if (e.type === 'vm.deleted') return list.filter((v) => v.name !== e.vm);
  const state = stateOf(e);
  if (!state) return list;
  return list.map((v) => (v.name === e.vm ? { ...v, state } : v));
}

export function upsert(list: Vm[], vm: Vm): Vm[] {
  const i = list.findIndex((v) => v.name === vm.name);
  if (i < 0) return [...list, vm].sort((a, b) => a.name.localeCompare(b.name));
  const next = [...list];
  next[i] = vm;
  return next;
}

export function useVmList() {
  const res = useApi<Vm[]>('/v1/vms');
  const { set } = res;
  const pending = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const refetch = useCallback((name: string) => {
    clearTimeout(pending.current.get(name));
    pending.current.set(name, setTimeout(() => {
      pending.current.delete(name);
      api<Vm>('GET', vmPath(name)).then((vm) => set((l) => upsert(l ?? [], vm)), () => undefined);
    }, 150));
  }, [set]);
  useEffect(() => {
    const timers = pending.current;
    return () => timers.forEach(clearTimeout);
  }, []);
  useEventListener((e) => {
    if (!e.vm || !(e.type.startsWith('vm.') || e.type.startsWith('snapshot.'))) return;
    set((l) => applyVmEvent(l ?? [], e));
    if (e.type !== 'vm.deleted') refetch(e.vm);
  });
  return res;
}

/** One VM, kept live the same way. */
export function useVm(name: string) {
  const res = useApi<Vm>(vmPath(name));
  const { set, reload } = res;
  useEventListener((e) => {
    if (e.vm !== name) return;
    const state = stateOf(e);
    if (state) set((v) => (v ? { ...v, state } : v));
    if (e.type !== 'vm.deleted') reload();
  });
  return res;
}
