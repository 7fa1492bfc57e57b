import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { createMetrics } from '../src/observability/metrics.js';

/** docs/grafana-dashboard.json, provisioned from a file (no `__inputs`), for every instance. */
const dashboard = JSON.parse(
  readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
) as {
  __inputs?: unknown;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: {
    title: string;
    datasource: { uid: string };
    targets?: { expr: string; datasource: { uid: string } }[];
  }[];
};
const targets = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, ...t })),
);

test('the datasource is a variable, with job and instance variables', () => {
  expect(dashboard.__inputs).toBeUndefined();
  expect(JSON.stringify(dashboard)).not.toMatch(/\$\{DS_/);
  const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
  expect(vars.job).toMatchObject({ type: 'query' });
  expect(vars.instance).toMatchObject({ type: 'query' });
  for (const p of dashboard.panels) expect(p.datasource.uid, p.title).toBe('${datasource}');
  for (const t of targets) expect(t.datasource.uid, t.panel).toBe('${datasource}');
});

test('every metric the dashboard queries is exported, selected by job and instance', async () => {
  const metrics = createMetrics();
  const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  expect(targets.length).toBeGreaterThan(10);
  for (const t of targets) {
    const selectors = [...t.expr.matchAll(/\b((?:streamer|kuvasz)_[a-z0-9_]+)(\{[^}]*\})?/g)];
    expect(selectors.length, t.expr).toBeGreaterThan(0);
    for (const [, name, labels] of selectors) {
      // Histograms and summaries are exported under their base name.
      const base = name!.replace(/_(bucket|sum|count)$/, '');
      expect(exported.has(name!) || exported.has(base), `${t.panel}: ${name} is not exported`).toBe(
        true,
      );
      expect(labels, `${t.panel}: ${name}`).toMatch(/job=~"\$job", instance=~"\$instance"/);
    }
  }
});
