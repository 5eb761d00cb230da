/** One entry of the event log (`hangar events`). */
export interface HangarEvent {
  seq: number;
  time: string;
  /** e.g. `vm.created`, `vm.state`, `vm.deleted`, `vm.crashed`, `daemon.started` */
  type: string;
  vm?: string;
  data: Record<string, unknown>;
}

