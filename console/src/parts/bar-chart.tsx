// A plain SVG bar chart with a text table beside it for screen readers.
export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ title, bars, format }: { title: string; bars: Bar[]; format(n: number): string }) {
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const rowHeight = 26;
  const height = bars.length * rowHeight;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 400 ${height}`}
        width="100%"
        height={height}
        role="img"
        aria-label={title}
        preserveAspectRatio="none"
      >
        {bars.map((b, i) => (
          <g key={b.label} transform={`translate(0 ${i * rowHeight})`}>
            <rect class="bar" x="0" y="4" height={rowHeight - 8} width={Math.max(1, (b.value / max) * 250)} />
            <text x={Math.max(1, (b.value / max) * 250) + 6} y={rowHeight / 2 + 4}>
              {b.label}: {format(b.value)}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
