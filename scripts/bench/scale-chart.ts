/**
 * The scale benchmark as one SVG a person reads at a glance: for each mix, CPU ms per request net of idle
 * (bars, one per N) and p99 (bars), and the load balancer's share per process (stacked bar).
 */
import type { ScaleRow } from './scale.js';

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A bar panel: one bar per row, labelled N=…, scaled to its own maximum. */
function panel(
  x: number,
  y: number,
  title: string,
  rows: ScaleRow[],
  value: (r: ScaleRow) => number,
  unit: string,
): string {
  const width = 260;
  const height = 150;
  const max = Math.max(...rows.map(value), 1e-9) * 1.15;
  const bar = width / (rows.length * 1.6);
  const parts = [
    `<text x="${x}" y="${y - 8}" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${x}" y1="${y + height}" x2="${x + width}" y2="${y + height}" stroke="#333"/>`,
  ];
  rows.forEach((r, i) => {
    const v = value(r);
    const h = (v / max) * height;
    const bx = x + 10 + i * bar * 1.6;
    parts.push(
      `<rect x="${bx}" y="${y + height - h}" width="${bar}" height="${h}" fill="${COLORS[0]}"/>`,
      `<text x="${bx + bar / 2}" y="${y + height - h - 4}" font-size="11" text-anchor="middle">${v.toFixed(unit === 'ms' ? 0 : 2)}</text>`,
      `<text x="${bx + bar / 2}" y="${y + height + 14}" font-size="11" text-anchor="middle">N=${r.processes}</text>`,
    );
  });
  parts.push(
    `<text x="${x + width}" y="${y + height + 28}" font-size="10" text-anchor="end" fill="#666">${esc(unit)}</text>`,
  );
  return parts.join('\n');
}

/** Stacked bars: each process's share of the requests for each N. */
function spread(x: number, y: number, rows: ScaleRow[]): string {
  const width = 260;
  const rowH = 22;
  const parts = [
    `<text x="${x}" y="${y - 8}" font-size="13" font-weight="bold">HAProxy spread (share of requests)</text>`,
  ];
  rows.forEach((r, i) => {
    let cx = x + 40;
    const cy = y + i * (rowH + 8);
    parts.push(`<text x="${x}" y="${cy + 15}" font-size="11">N=${r.processes}</text>`);
    r.perProcess.forEach((p, j) => {
      const w = p.share * (width - 40);
      parts.push(
        `<rect x="${cx}" y="${cy}" width="${w}" height="${rowH}" fill="${COLORS[j % COLORS.length]}"/>`,
        `<text x="${cx + w / 2}" y="${cy + 15}" font-size="10" text-anchor="middle" fill="#fff">${Math.round(p.share * 100)}%</text>`,
      );
      cx += w;
    });
  });
  return parts.join('\n');
}

export function scaleChart(
  rows: ScaleRow[],
  meta: { date: string; rate: number; writeRate: number; seconds: number },
) {
  const mixes = [...new Set(rows.map((r) => r.mix))];
  const rowHeight = 240;
  const body = mixes.map((mix, m) => {
    const mine = rows.filter((r) => r.mix === mix);
    const y = 100 + m * rowHeight;
    return [
      `<text x="20" y="${y - 30}" font-size="15" font-weight="bold">${esc(mix)} mix</text>`,
      panel(20, y, 'CPU ms per request, net of idle', mine, (r) => r.netCpuMsPerRequest, 'CPU ms'),
      panel(320, y, 'p99 latency through HAProxy', mine, (r) => r.p99Ms, 'ms'),
      spread(620, y, mine),
    ].join('\n');
  });
  const height = 100 + mixes.length * rowHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="920" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="24" font-size="16" font-weight="bold">1 vs N API processes behind HAProxy (flat is good)</text>
<text x="20" y="42" font-size="11" fill="#666">${esc(meta.date)}: reads at ${meta.rate} req/s, write-heavy at ${meta.writeRate} req/s, ${meta.seconds} s per step; npm run bench:scale</text>
${body.join('\n')}
</svg>
`;
}
