// Does the gateway's memory grow with the size of a result? It should not: rows stream from
// DuckDB into the HTTP response chunk by chunk.
//
//   node --import tsx test/bench/memory.ts
//
// For each result size (PHIGATE_BENCH_SIZES, default 1000,10000,100000,1000000 rows) a fresh
// gateway child process (`node bin/phigate.mjs serve`, so its memory is measured alone) runs
// two warm-up statements and a full GC; then its peak-RSS mark is reset (/proc/<pid>/clear_refs) and one
// statement of that size is streamed. The client reads the response as a stream and counts
// rows without keeping them. Measured in the child: VmHWM (peak RSS, kernel), VmRSS sampled
// every 10 ms, and the V8 heap maxima sampled in-process (test/bench/heap-probe.mjs).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/cli.ts';
import { TEST_CACHE_DIR } from '../helpers/gateway.ts';
import { BENCH_MAX_ROWS, BENCH_TOKEN, envInt, fmt, fmtInt, isMain, openBenchPolicy, ratio, table, writeSummary } from './common.ts';

/** patients × providers is 2,000,200 rows; masked columns (redact, year, zip3, partial), no ORDER BY so DuckDB streams. */
export const memoryStatement = (n: number) =>
  `SELECT p.patient_id, p.ssn, p.dob, p.zip, p.phone, pr.provider_id FROM patients p CROSS JOIN providers pr LIMIT ${n}`;

export interface MemoryRow {
  rows: number;
  responseBytes: number;
  seconds: number;
  idleRssMiB: number;
  peakRssMiB: number;
  sampledMaxRssMiB: number;
  peakHeapUsedMiB: number;
  peakExternalMiB: number;
  hwmReset: boolean;
}

const MiB = 2 ** 20;
const PROBE = join(ROOT, 'test', 'bench', 'heap-probe.mjs');

function status(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** Resets the kernel's peak-RSS mark (VmHWM) to the current RSS; Linux ≥ 4.0, same user. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const s = status(pid);
    return s.hwmKiB <= s.rssKiB + 1024;
  } catch {
    return false;
  }
}

interface Child { proc: ChildProcess; url: string; probe(): Promise<Record<string, number>>; stop(): Promise<void> }

async function startChild(dir: string): Promise<Child> {
  const proc = spawn(process.execPath, [
    '--expose-gc', '--import', PROBE, BIN, 'serve', '-f', join(dir, 'policy.yaml'), '--token-auth-file', join(dir, 'tokens.csv'),
    '--port', '0', '--cache-dir', TEST_CACHE_DIR,
  ], { cwd: ROOT, env: { ...process.env, PHIGATE_CACHE_DIR: TEST_CACHE_DIR }, stdio: ['ignore', 'pipe', 'pipe'] });
  // The audit log goes to stdout: drain it (a full pipe would stall the gateway), keep nothing.
  proc.stdout!.resume();
  let err = '';
  const probeWaiters: ((v: Record<string, number>) => void)[] = [];
  proc.stderr!.setEncoding('utf8');
  let partial = '';
  proc.stderr!.on('data', (d: string) => {
    err = (err + d).slice(-20_000);
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = /^PHIGATE_BENCH_PROBE (\{.*\})$/.exec(line);
      if (m) probeWaiters.shift()?.(JSON.parse(m[1]!));
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway not ready in 120 s: ${err.slice(-500)}`)), 120_000);
    const check = () => {
      const m = /ready: \d+ polic(?:y|ies) on (http:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); proc.stderr!.off('data', check); resolve(m[1]!); }
    };
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gateway exited with ${code}: ${err.slice(-500)}`)); });
  });
  return {
    proc, url,
    probe: () => new Promise((resolve) => { probeWaiters.push(resolve); proc.kill('SIGUSR2'); }),
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) { resolve(); return; }
      proc.removeAllListeners('exit');
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
  };
}

/**
 * POSTs the statement and reads the response as a stream, counting rows (arrays directly
 * inside the top-level "data" array) without keeping them. Returns the count, numRows from
 * resultSetMetaData, and the bytes read.
 */
async function streamCount(url: string, sql: string): Promise<{ rows: number; numRows: number; bytes: number }> {
  const res = await fetch(`${url}/api/v2/statements`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_TOKEN}` },
    body: JSON.stringify({ statement: sql }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`gateway answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d, QUOTE = 0x22, BACKSLASH = 0x5c;
  const stack: number[] = [];
  let inString = false, escaped = false, rows = 0, bytes = 0;
  let tail = '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === OPEN_OBJ) stack.push(b);
      else if (b === OPEN_ARR) {
        // A row: an array directly inside the top-level object's only array ("data").
        if (stack.length === 2 && stack[0] === OPEN_OBJ && stack[1] === OPEN_ARR) rows++;
        stack.push(b);
      } else if (b === CLOSE_OBJ || b === CLOSE_ARR) stack.pop();
    }
    // resultSetMetaData comes last; keep only the end of the text.
    tail = (tail + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1')).slice(-4096);
  }
  const numRows = Number(/"numRows":(\d+)/.exec(tail)?.[1] ?? NaN);
  return { rows, numRows, bytes };
}

export async function benchMemory(): Promise<{ rows: MemoryRow[]; statement: string }> {
  const sizes = (process.env.PHIGATE_BENCH_SIZES ?? '1000,10000,100000,1000000').split(',').map(Number).filter((n) => n > 0);
  if (Math.max(...sizes) > BENCH_MAX_ROWS) throw new Error(`sizes above the bench policy's maxRows (${BENCH_MAX_ROWS})`);
  // Writes policy.yaml and tokens.csv (and makes sure the demo dataset exists before timing).
  const bench = await openBenchPolicy();
  await bench.warehouse.close();
  const out: MemoryRow[] = [];
  const sampleMs = envInt('PHIGATE_BENCH_RSS_SAMPLE_MS', 10);
  for (const n of sizes) {
    const child = await startChild(bench.dir);
    try {
      const pid = child.proc.pid!;
      // Warm-up: JIT, DuckDB buffers and the HTTP path, with a statement that misses the plan cache as the measured one will.
      for (let i = 0; i < 2; i++) await streamCount(child.url, memoryStatement(999));
      await child.probe(); // start the heap maxima afresh, from a collected heap
      await new Promise((r) => setTimeout(r, 200));
      const idle = status(pid).rssKiB;
      const hwmReset = resetPeak(pid);
      let sampledMax = idle;
      const timer = setInterval(() => { try { sampledMax = Math.max(sampledMax, status(pid).rssKiB); } catch { /* exited */ } }, sampleMs);
      const t0 = performance.now();
      const r = await streamCount(child.url, memoryStatement(n));
      const seconds = (performance.now() - t0) / 1000;
      clearInterval(timer);
      const s = status(pid);
      sampledMax = Math.max(sampledMax, s.rssKiB);
      const heap = await child.probe();
      if (r.rows !== n || r.numRows !== n) throw new Error(`expected ${n} rows, counted ${r.rows}, numRows ${r.numRows}`);
      out.push({
        rows: n, responseBytes: r.bytes, seconds,
        idleRssMiB: idle / 1024,
        peakRssMiB: (hwmReset ? s.hwmKiB : sampledMax) / 1024,
        sampledMaxRssMiB: sampledMax / 1024,
        peakHeapUsedMiB: heap.heapUsed! / MiB,
        peakExternalMiB: heap.external! / MiB,
        hwmReset,
      });
    } finally {
      await child.stop();
    }
  }
  rmSync(bench.dir, { recursive: true, force: true });
  return { rows: out, statement: memoryStatement(0).replace(/LIMIT 0$/, 'LIMIT <rows>') };
}

/**
 * The verdict: flat when the peak at the largest size is within 25% of the smallest's and the
 * extra growth during the statement is under a tenth of the extra response (16 MiB at least,
 * for allocator and engine noise). A gateway that buffered results would grow by at least the
 * response's size.
 */
export function streams(rows: MemoryRow[]): boolean {
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const extraGrowth = (last.peakRssMiB - last.idleRssMiB) - (first.peakRssMiB - first.idleRssMiB);
  const extraResponse = (last.responseBytes - first.responseBytes) / MiB;
  return last.peakRssMiB / first.peakRssMiB < 1.25 && extraGrowth < Math.max(16, 0.1 * extraResponse);
}

export function reportMemory(r: Awaited<ReturnType<typeof benchMemory>>): string {
  const out: string[] = [];
  const first = r.rows[0]!;
  const last = r.rows[r.rows.length - 1]!;
  out.push('== memory: gateway child process while streaming one result (MiB) ==');
  out.push(`statement: ${r.statement}`);
  out.push(table(
    ['rows', 'response MiB', 'seconds', 'rows/s', 'RSS before', 'peak RSS', 'peak − before', 'peak heapUsed', 'peak external'],
    r.rows.map((x) => [fmtInt(x.rows), fmt(x.responseBytes / MiB, 1), fmt(x.seconds, 2), fmtInt(x.rows / x.seconds),
      fmt(x.idleRssMiB), fmt(x.peakRssMiB), fmt(x.peakRssMiB - x.idleRssMiB), fmt(x.peakHeapUsedMiB), fmt(x.peakExternalMiB)]),
  ));
  out.push(`peak RSS ${fmtInt(last.rows)} rows / ${fmtInt(first.rows)} rows: ${ratio(last.peakRssMiB, first.peakRssMiB)} `
    + `(result ${fmtInt(last.rows / first.rows)}x larger); peak heapUsed ratio ${ratio(last.peakHeapUsedMiB, first.peakHeapUsedMiB)}; `
    + `RSS growth during the statement ${fmt(first.peakRssMiB - first.idleRssMiB)} → ${fmt(last.peakRssMiB - last.idleRssMiB)} MiB `
    + `while the response grew to ${fmt(last.responseBytes / MiB, 1)} MiB. `
    + (streams(r.rows) ? 'Flat: the result streams.' : 'GROWS with the result: the gateway holds part of the result in memory.'));
  if (!r.rows.every((x) => x.hwmReset)) out.push('note: /proc/<pid>/clear_refs was not writable; peak RSS is the 10 ms VmRSS sampling maximum, not VmHWM.');
  return out.join('\n');
}

if (isMain(import.meta.url)) {
  const r = await benchMemory();
  console.log(reportMemory(r));
  writeSummary(r);
}
