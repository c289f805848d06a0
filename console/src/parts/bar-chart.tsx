// A plain SVG bar chart with a text table beside it for screen readers.
export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ title, bars, format }: { title: string; bars: Bar[]; format: (n: number) => string }) {
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  // Each row: its label and value on one line, the bar below it, scaled to the largest value.
  const rowHeight = 40;
  const width = 400;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${bars.length * rowHeight}`} width="100%" role="img" aria-label={title}>
        {bars.map((b, i) => (
          <g key={b.label} transform={`translate(0 ${i * rowHeight})`}>
            <text x="0" y="14">
              {b.label}: {format(b.value)}
            </text>
            <rect class="bar" x="0" y="20" height="14" rx="2" width={Math.max(2, (b.value / max) * width)} />
          </g>
        ))}
      </svg>
    </figure>
  );
}
