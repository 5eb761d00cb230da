export function StateBadge({ state }: { state: string }) {
  return <span className={`state state-${state}`} data-state={state}>{state}</span>;
}
