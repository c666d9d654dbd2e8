// Shared pieces of the benchmarks: the policy they run under, the statements they time,
// statistics and table printing. Benchmarks print figures (ratios against a baseline
// measured in the same run); they never fail on timing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadManifests, secretValue } from '../../src/api/load.ts';
import { compilePolicy, type CompiledPolicy } from '../../src/policy/compile.ts';
import { openDuckDBWarehouse } from '../../src/warehouse/duckdb.ts';
import type { Warehouse } from '../../src/warehouse/types.ts';
import { TEST_CACHE_DIR } from '../helpers/gateway.ts';

/**
 * The demo policy's shape (README): every table, several masking strategies applied in the
 * engine (redact, keyed hash, year, zip3, partial, email_domain, scrub), detectors on free
 * text, audit.results: masked. maxRows is high enough for the memory benchmark's largest result.
 */
export const BENCH_MAX_ROWS = 2_000_000;
export const BENCH_POLICY = `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: bench, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: bench-agent } ]
  access:
    statements: [SELECT]
    tables:
      - { name: PATIENTS, columns: ["*"] }
      - { name: ENCOUNTERS, columns: ["*"] }
      - { name: PROVIDERS, columns: [PROVIDER_ID, NPI, NAME, SPECIALTY] }
    maxRows: ${BENCH_MAX_ROWS}
  masking:
    rules:
      - { columns: [PATIENTS.SSN, PATIENTS.FIRST_NAME, PATIENTS.LAST_NAME, PATIENTS.ADDRESS], strategy: redact }
      - { columns: [PATIENTS.MRN], strategy: hash }
      - { columns: [PATIENTS.DOB], strategy: year }
      - { columns: [PATIENTS.ZIP], strategy: zip3 }
      - { columns: ["*.PHONE"], strategy: partial, keep: 4 }
      - { columns: ["*.EMAIL"], strategy: email_domain }
      - { columns: ["*.NOTES"], strategy: scrub }
    detectors: [ssn, phone, email, mrn, date]
    hashKeySecretRef: { name: bench-hash-key }
  audit:
    results: masked
---
apiVersion: v1
kind: Secret
metadata: { name: bench-hash-key, namespace: default }
type: Opaque
stringData: { hashKey: bench-only-not-a-secret }
`;
export const BENCH_TOKEN = 'bench-token';
export const BENCH_TOKENS = `${BENCH_TOKEN},bench-agent,bench-uid,"agents"\n`;

/** Typical agent statements; each returns 100 rows or fewer. */
export const STATEMENTS: { name: string; sql: string }[] = [
  {
    name: 'simple select',
    sql: "SELECT patient_id, mrn, ssn, dob, zip, state FROM patients WHERE state = 'CA' ORDER BY patient_id LIMIT 100",
  },
  {
    name: '3-table join',
    sql: 'SELECT p.mrn, p.dob, e.admit_date, e.diagnosis_code, pr.name, pr.specialty FROM encounters e '
      + 'JOIN patients p ON p.patient_id = e.patient_id JOIN providers pr ON pr.provider_id = e.provider_id '
      + "WHERE e.admit_date >= DATE '2023-01-01' AND pr.specialty = 'Cardiology' ORDER BY e.encounter_id LIMIT 100",
  },
  {
    name: 'CTE + window',
    sql: 'WITH ranked AS (SELECT patient_id, admit_date, diagnosis_code, '
      + 'ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY admit_date DESC) AS rn FROM encounters) '
      + 'SELECT p.patient_id, p.zip, p.state, r.admit_date, r.diagnosis_code FROM ranked r '
      + 'JOIN patients p ON p.patient_id = r.patient_id WHERE r.rn = 1 ORDER BY p.patient_id LIMIT 100',
  },
  {
    name: 'aggregate',
    sql: 'SELECT p.state, e.encounter_type, COUNT(*) AS visits, COUNT(DISTINCT p.mrn) AS patients, '
      + 'SUM(e.total_charge) AS charges FROM encounters e JOIN patients p ON p.patient_id = e.patient_id '
      + 'GROUP BY p.state, e.encounter_type HAVING COUNT(*) > 10 ORDER BY visits DESC LIMIT 100',
  },
];

/** The bench policy compiled against the real demo warehouse (the gateway's own objects). */
export async function openBenchPolicy(): Promise<{ policy: CompiledPolicy; warehouse: Warehouse; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'phigate-bench-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, BENCH_POLICY);
  writeFileSync(join(dir, 'tokens.csv'), BENCH_TOKENS);
  const manifests = await loadManifests([file]);
  const loaded = manifests.policies[0]!.policy;
  const warehouse = await openDuckDBWarehouse({ path: ':demo:' }, { readOnly: true, cacheDir: TEST_CACHE_DIR });
  const hashKey = secretValue(manifests.secrets, 'default', 'bench-hash-key', 'hashKey');
  const policy = compilePolicy(loaded, await warehouse.catalog(), { hashKey });
  return { policy, warehouse, dir };
}

// ---------------------------------------------------------------------------------------
// Statistics

export interface Stats { n: number; median: number; p95: number; mean: number; min: number }

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, median: q(0.5), p95: q(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0]! };
}

/** Keeps results reachable so the optimiser cannot drop the work being timed. */
export const sink: unknown[] = [];
export function consume(v: unknown): void {
  sink[0] = v;
}

export interface TimingOptions {
  /** Untimed calls first (JIT, caches); at most warmupMs of them. */
  warmup: number;
  /** Timed calls: as many as fit in budgetMs, within [minIterations, maxIterations]. */
  maxIterations: number;
  minIterations?: number;
  budgetMs?: number;
  warmupMs?: number;
}

/** How many timed calls fit the budget, from the mean of the warm-up calls. */
function plan(o: TimingOptions, warmupMeanUs: number): number {
  const budget = (o.budgetMs ?? 2000) * 1000;
  const n = Math.floor(budget / Math.max(warmupMeanUs, 0.01));
  return Math.max(o.minIterations ?? 50, Math.min(o.maxIterations, n));
}

const now = () => process.hrtime.bigint();
const us = (a: bigint, b: bigint) => Number(b - a) / 1000;

/** Times `fn` per call (microseconds). */
export function timeSync(fn: () => unknown, o: TimingOptions): Stats {
  const w0 = now();
  let w = 0;
  while (w < o.warmup && (w < 5 || us(w0, now()) < (o.warmupMs ?? 1000) * 1000)) { consume(fn()); w++; }
  const n = plan(o, us(w0, now()) / w);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const v = fn();
    const t1 = now();
    consume(v);
    out[i] = us(t0, t1);
  }
  return stats(out);
}

/**
 * Times `a` and `b` alternately (microseconds), so both see the same machine conditions, and
 * returns the statistics of each and of the per-pair difference a − b: the cost `a` adds to `b`.
 */
export function timePaired(a: () => unknown, b: () => unknown, o: TimingOptions): { a: Stats; b: Stats; diff: Stats } {
  const w0 = now();
  let w = 0;
  while (w < o.warmup && (w < 5 || us(w0, now()) < (o.warmupMs ?? 1000) * 1000)) { consume(a()); consume(b()); w++; }
  const n = plan({ ...o, budgetMs: (o.budgetMs ?? 2000) * 2 }, us(w0, now()) / w);
  const as = new Array<number>(n);
  const bs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let t0 = now();
    consume(a());
    as[i] = us(t0, now());
    t0 = now();
    consume(b());
    bs[i] = us(t0, now());
  }
  return { a: stats(as), b: stats(bs), diff: stats(as.map((x, i) => x - bs[i]!)) };
}

export async function timeAsync(fn: () => Promise<unknown>, o: TimingOptions): Promise<Stats> {
  const w0 = now();
  let w = 0;
  while (w < o.warmup && (w < 5 || us(w0, now()) < (o.warmupMs ?? 1000) * 1000)) { consume(await fn()); w++; }
  const n = plan(o, us(w0, now()) / w);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const v = await fn();
    const t1 = now();
    consume(v);
    out[i] = us(t0, t1);
  }
  return stats(out);
}

export const envInt = (name: string, dflt: number) => {
  const v = process.env[name];
  const n = v ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 ? n : dflt;
};

// ---------------------------------------------------------------------------------------
// Printing

export const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
export const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');
export const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : '-');

/** A plain-text table: right-aligned except the first column. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function machine(): string {
  const c = cpus();
  return `${c.length} CPU (${c[0]?.model.trim() ?? 'unknown'}), ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM, ${process.platform} ${process.arch}`;
}

/** When run by run.ts, each benchmark hands its summary over as JSON in this file. */
export function writeSummary(summary: unknown): void {
  const file = process.env.PHIGATE_BENCH_SUMMARY;
  if (file) writeFileSync(file, JSON.stringify(summary));
}

/** True when this module is the script node was asked to run. */
export function isMain(url: string): boolean {
  return !!process.argv[1] && url === pathToFileURL(process.argv[1]).href;
}
