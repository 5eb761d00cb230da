/** A time-series chart (uPlot): one x axis of unix seconds, one line per series; follows its box's width. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1'];

/** `floor`: the least top of the y axis (so an all-zero series still gets sensible ticks). */
export function Chart({ title, series, data, format, floor = 1 }: { title: string; series: string[]; data: uPlot.AlignedData; format: (v: number) => string; floor?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>(undefined);

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      title,
      width: el.clientWidth || 400,
      height: 180,
      series: [{}, ...series.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '–' : format(v)) }))],
      axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 70 }],
      scales: { y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max((max ?? 0) * 1.1, floor)] } },
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
    // Built once per set of series (data changes go through setData below).
  }, [title, series.join('|'), floor]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div className="chart" ref={box} data-chart={title} />;
}
