/** "used of total" with a bar. */
export function Meter({ label, used, total, format }: { label: string; used: number; total: number; format: (n: number) => string }) {
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return (
    <div className="meter">
      <div className="meter-label"><span>{label}</span><span>{format(used)} / {format(total)} ({pct}%)</span></div>
      <div className="meter-bar"><div style={{ width: `${pct}%` }} className={pct > 90 ? 'hot' : ''} /></div>
    </div>
  );
}
