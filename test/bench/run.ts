// Runs the three benchmarks, each in its own process so one's heap, JIT state and DuckDB
// instances do not colour another's, then prints a compact summary.
//
//   npm run bench          (node --import tsx test/bench/run.ts)
//   npm run bench -- pipeline latency     (a subset)
//
// Figures are ratios against baselines measured in the same run; nothing here fails on timing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, fmtInt, machine, ratio, table } from './common.ts';
import type { PipelineRow } from './pipeline.ts';
import type { LatencyRow } from './latency.ts';
import { streams, type MemoryRow } from './memory.ts';

const BENCHES = ['pipeline', 'latency', 'memory'] as const;
type Bench = (typeof BENCHES)[number];

const here = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2).filter((a): a is Bench => (BENCHES as readonly string[]).includes(a));
const selected = wanted.length ? wanted : [...BENCHES];
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

const git = (args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
const head = git(['rev-parse', '--short', 'HEAD']);
const dirty = git(['status', '--porcelain', '--untracked-files=no']);
const commit = head.status === 0
  ? `${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() !== '' ? ' (with uncommitted changes)' : ''}`
  : 'unknown';

const header = [
  `phigate benchmarks — ${new Date().toISOString()} — commit ${commit}`,
  `command: ${[process.argv0, ...process.execArgv, ...process.argv.slice(1).map((a) => a.replace(`${process.cwd()}/`, ''))].join(' ')}`
    + (process.env.npm_lifecycle_event ? `  (npm run ${process.env.npm_lifecycle_event})` : ''),
  `node ${process.version}; ${machine()}; load average at start ${load()}`,
  `settings: ${Object.entries(process.env).filter(([k]) => k.startsWith('PHIGATE_BENCH_')).map(([k, v]) => `${k}=${v}`).join(' ') || 'defaults'}`,
];
console.log(header.join('\n'));
console.log();

const dir = mkdtempSync(join(tmpdir(), 'phigate-bench-run-'));
const summaries: Partial<Record<Bench, any>> = {};
const loads: Partial<Record<Bench, string>> = {};
for (const b of selected) {
  const file = join(dir, `${b}.json`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${b}.ts`)], {
    stdio: 'inherit', env: { ...process.env, PHIGATE_BENCH_SUMMARY: file },
  });
  loads[b] = load();
  if (r.status !== 0) { console.error(`benchmark ${b} failed (exit ${r.status ?? r.signal})`); process.exitCode = 1; continue; }
  summaries[b] = JSON.parse(readFileSync(file, 'utf8'));
  console.log(`(load average after ${b}: ${loads[b]})\n`);
}
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------
// Summary

const lines: string[] = ['== summary =='];
const p = summaries.pipeline as { rows: PipelineRow[] } | undefined;
const l = summaries.latency as { rows: LatencyRow[] } | undefined;
const m = summaries.memory as { rows: MemoryRow[] } | undefined;
const names = (p?.rows ?? l?.rows ?? []).map((x) => x.statement);
if (p || l) {
  lines.push(table(
    ['statement', 'parse µs', 'decide+proj. µs', 're-parse µs', 'a+d+r / parse', 'plan hit µs', 'gateway ms', 'direct ms', 'gw / direct', 'gw / bare HTTP', 'plan miss ms'],
    names.map((name) => {
      const pr = p?.rows.find((x) => x.statement === name);
      const lr = l?.rows.find((x) => x.statement === name);
      return [
        name,
        pr ? fmt(pr.parse.median) : '-',
        pr ? fmt(pr.decide.median + pr.projections.median) : '-',
        pr ? fmt(pr.reparse.median) : '-',
        pr ? ratio(pr.adr.median, pr.parse.median) : '-',
        pr ? fmt(pr.planHit.median) : '-',
        lr ? fmt(lr.gateway.median, 2) : '-',
        lr ? fmt(lr.direct.median, 2) : '-',
        lr ? ratio(lr.gateway.median, lr.direct.median) : '-',
        lr ? ratio(lr.gateway.median, lr.bareHttp.median) : '-',
        lr ? fmt(lr.gatewayMiss.median, 2) : '-',
      ];
    }),
  ));
}
if (m && m.rows.length) {
  const first = m.rows[0]!;
  const last = m.rows[m.rows.length - 1]!;
  lines.push('');
  lines.push(table(
    ['rows streamed', ...m.rows.map((x) => fmtInt(x.rows))],
    [
      ['peak RSS MiB', ...m.rows.map((x) => fmt(x.peakRssMiB))],
      ['RSS growth MiB', ...m.rows.map((x) => fmt(x.peakRssMiB - x.idleRssMiB))],
      ['response MiB', ...m.rows.map((x) => fmt(x.responseBytes / 2 ** 20))],
      ['peak heapUsed MiB', ...m.rows.map((x) => fmt(x.peakHeapUsedMiB))],
      ['rows/s', ...m.rows.map((x) => fmtInt(x.rows / x.seconds))],
    ],
  ));
  lines.push(`peak RSS at ${fmtInt(last.rows)} rows / at ${fmtInt(first.rows)} rows: ${ratio(last.peakRssMiB, first.peakRssMiB)}`
    + (streams(m.rows) ? ' (flat: results stream)' : ' (GROWS with the result size)'));
}
lines.push('');
lines.push(`load average at end ${load()} (other work on this machine inflates and scatters the timings; the ratios are taken within one run)`);
console.log(lines.join('\n'));
