/**
 * The results as one SVG of four bar panels, written by hand: no charting
 * dependency, readable in any browser and on GitHub.
 */
import type { BenchResults } from './types.js';

const OURS = '#2563eb';
const BASE = '#9ca3af';
const TUNED = '#93c5fd';
const GOAL = '#dc2626';
const W = 470;
const H = 300;

interface Bar {
  name: string;
  value: number;
  color: string;
  /** Text above the bar (default: the value). */
  label?: string;
}

interface Panel {
  title: string;
  unit: string;
  groups: { label: string; bars: Bar[] }[];
  goal?: { value: number; label: string };
  /** Values above are drawn at the cap, labelled with their real value. */
  cap?: number;
  /** Legend text of the grey bars. */
  baseline?: string;
}

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function short(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`;
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function panel(p: Panel, x: number, y: number): string {
  const left = 56;
  const top = 44;
  const plotW = W - left - 16;
  const plotH = H - top - 62;
  const values = p.groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite);
  const top1 = Math.max(...values, p.goal?.value ?? 0, 0);
  const max = niceMax(p.cap ? Math.min(top1, p.cap) : top1);
  const yOf = (v: number) => top + plotH - (Math.min(v, max) / max) * plotH;
  const out: string[] = [`<g transform="translate(${x},${y})">`];
  out.push(
    `<rect width="${W}" height="${H}" fill="#fff" stroke="#e5e7eb"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(p.title)}</text>`,
    `<text x="12" y="${top - 8}" font-size="11" fill="#6b7280">${esc(p.unit)}</text>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    const yy = yOf(v);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#f3f4f6"/>`,
      `<text x="${left - 6}" y="${yy + 4}" text-anchor="end" font-size="10" fill="#6b7280">${short(v)}</text>`,
    );
  }
  const gw = plotW / Math.max(1, p.groups.length);
  p.groups.forEach((g, gi) => {
    const n = g.bars.length;
    const bw = Math.min(48, (gw - 16) / Math.max(1, n));
    const x0 = left + gi * gw + (gw - bw * n) / 2;
    g.bars.forEach((b, bi) => {
      const bx = x0 + bi * bw;
      if (!Number.isFinite(b.value)) {
        out.push(
          `<text x="${bx + bw / 2}" y="${top + plotH - 4}" text-anchor="middle" font-size="10" fill="#6b7280">n/a</text>`,
        );
        return;
      }
      const yy = yOf(b.value);
      const capped = p.cap !== undefined && b.value > max;
      out.push(
        `<rect x="${bx + 2}" y="${yy}" width="${bw - 4}" height="${top + plotH - yy}" fill="${b.color}"${capped ? ' fill-opacity="0.6"' : ''}><title>${esc(`${b.name}: ${b.label ?? short(b.value)}`)}</title></rect>`,
        `<text x="${bx + bw / 2}" y="${yy - 4}" text-anchor="middle" font-size="10">${esc(`${capped ? '↑' : ''}${b.label ?? short(b.value)}`)}</text>`,
      );
    });
    // Labels wrap at '\n' (narrow groups).
    const lines = g.label.split('\n');
    out.push(
      `<text x="${left + gi * gw + gw / 2}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${lines
        .map(
          (l, li) =>
            `<tspan x="${left + gi * gw + gw / 2}" dy="${li === 0 ? 0 : 12}">${esc(l)}</tspan>`,
        )
        .join('')}</text>`,
    );
  });
  if (p.goal) {
    const yy = yOf(p.goal.value);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="${GOAL}" stroke-dasharray="5,4"/>`,
      `<text x="${left + plotW}" y="${yy - 4}" text-anchor="end" font-size="10" fill="${GOAL}">${esc(p.goal.label)}</text>`,
    );
  }
  const legend = [
    { color: OURS, text: 'kuvasz-streamer' },
    ...p.groups
      .flatMap((g) => g.bars.filter((b) => b.color === TUNED).map((b) => b.name))
      .slice(0, 1)
      .map((name) => ({ color: TUNED, text: name.replace(/^kuvasz-streamer, /, '') })),
    ...(p.groups.some((g) => g.bars.some((b) => b.color === BASE))
      ? [{ color: BASE, text: p.baseline ?? 'baseline' }]
      : []),
  ];
  out.push('<g font-size="11">');
  legend.forEach((l, i) => {
    const lx = left + i * 140;
    out.push(
      `<rect x="${lx}" y="${H - 17}" width="10" height="10" fill="${l.color}"/><text x="${lx + 14}" y="${H - 8}">${esc(l.text)}</text>`,
    );
  });
  out.push('</g>', '</g>');
  return out.join('\n');
}

export function renderChart(r: BenchResults): string {
  const panels: Panel[] = [];
  const mb = (b: number) => b / 1e6;
  if (r.sync) {
    panels.push({
      title: `1. Initial sync, ${Math.round(r.sync.bytes / 1e6).toLocaleString('en-US')} MB (PG ${r.sync.sourceVersion} → ${r.sync.destVersion})`,
      unit: 'MB/s (higher is better)',
      baseline: r.sync.baselineTool === 'pg_dump' ? 'pg_dump | psql' : 'psql \\copy pipe',
      groups: [
        {
          label: `ratio ${r.sync.ratio.toFixed(2)}x`,
          bars: [
            { name: 'kuvasz-streamer', value: r.sync.oursMBps, color: OURS },
            {
              name: r.sync.baselineTool === 'pg_dump' ? 'pg_dump | psql' : 'psql \\copy',
              value: r.sync.baselineMBps,
              color: BASE,
            },
          ],
        },
      ],
    });
  }
  if (r.catchup) {
    panels.push({
      title: `2. Catch-up of a ${short(r.catchup.rows[0]?.changes ?? 0)}-change backlog`,
      unit: 'row changes/s (higher is better)',
      baseline: 'native subscription',
      groups: r.catchup.rows.map((c) => ({
        label: `${c.type} (${c.ratio.toFixed(2)}x)`,
        bars: [
          { name: `kuvasz-streamer ${c.type}`, value: c.oursRowsPerSec, color: OURS },
          { name: 'native', value: c.nativeRowsPerSec, color: BASE },
        ],
      })),
    });
  }
  if (r.latency) {
    const rates = [...new Set(r.latency.points.map((p) => p.rate))];
    const at = (system: string, rate: number) =>
      r.latency?.points.find((p) => p.system === system && p.rate === rate);
    panels.push({
      title: '3. Commit-to-visible p99 under steady load',
      unit: 'ms (lower is better); x: row changes/s',
      baseline: 'native replication',
      cap: 2000,
      goal: { value: 1000, label: '1 s' },
      groups: rates.map((rate) => ({
        label: short(rate),
        bars: [
          {
            name: `kuvasz-streamer ${rate}/s`,
            value: at('kuvasz-streamer', rate)?.p99Ms ?? Number.NaN,
            color: OURS,
          },
          ...(r.latency?.points ?? [])
            .filter((p) => p.rate === rate && p.system.startsWith('kuvasz-streamer,'))
            .map((p) => ({ name: p.system, value: p.p99Ms, color: TUNED })),
          { name: `native ${rate}/s`, value: at('native', rate)?.p99Ms ?? Number.NaN, color: BASE },
        ],
      })),
    });
  }
  const mem: { label: string; bars: Bar[] }[] = [];
  if (r.memory) {
    mem.push({
      label: `${short(r.memory.rows)}-row tx`,
      bars: [{ name: 'peak RSS', value: mb(r.memory.peakRssBytes), color: OURS }],
    });
    if (r.memory.capped && !r.memory.capped.error)
      mem.push({
        label: `same, heap\ncapped ${r.memory.capped.heapMB} MB`,
        bars: [{ name: 'peak RSS', value: mb(r.memory.capped.peakRssBytes), color: OURS }],
      });
  }
  for (const c of r.catchup?.rows ?? [])
    mem.push({
      label: `catch-up\n${c.type}`,
      bars: [{ name: 'peak RSS', value: mb(c.peakRssBytes), color: OURS }],
    });
  if (r.sync)
    mem.push({
      label: 'initial\nsync',
      bars: [{ name: 'peak RSS', value: mb(r.sync.peakRssBytes), color: OURS }],
    });
  if (mem.length > 0)
    panels.push({
      title: '4. Streamer peak RSS (VmHWM)',
      unit: 'MB (lower is better)',
      groups: mem,
      goal: { value: 200, label: 'goal 200 MB' },
    });
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const width = cols * W + (cols + 1) * 10;
  const height = rows * H + (rows + 1) * 10 + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#f9fafb"/>`,
    `<text x="10" y="18" font-size="12" fill="#374151">${esc(`kuvasz-streamer bench, ${r.machine.date.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.cpus} CPUs (shared machine: noisy, compare ratios), scale ${r.scale}`)}</text>`,
    ...panels.map((p, i) =>
      panel(p, 10 + (i % cols) * (W + 10), 34 + Math.floor(i / cols) * (H + 10)),
    ),
    '</svg>',
    '',
  ].join('\n');
}
