// End-to-end latency of a statement through the gateway, against two baselines measured in
// the same run, for the same statements:
//
//   node --import tsx test/bench/latency.ts
//
//   direct        the agent's SQL on a direct DuckDB connection to the same demo file, all rows read
//   direct (rw)   phigate's rewritten SQL on that connection: the in-engine masking cost
//   prepare       DuckDB prepare (parse, bind, plan) of the agent's and of the rewritten text:
//                 the part of "direct (rw)" that comes from the size of the rewritten text
//   bare HTTP     an express server with the same JSON body parser that streams the same rows
//                 in the same SQL API envelope, without any analysis: the HTTP + JSON cost
//   gateway       POST /api/v2/statements on a real gateway (startTestGateway), plan cached
//   gateway miss  the same, with a comment appended so that every request misses the plan cache
//
// Requests are sequential, with fetch over loopback (keep-alive), targets interleaved per
// iteration. Counts: PHIGATE_BENCH_REQUESTS (default 200 per statement and target),
// PHIGATE_BENCH_MISS_REQUESTS (default 40), warm-up PHIGATE_BENCH_HTTP_WARMUP (default 20).
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DuckDBInstance } from '@duckdb/node-api';
import { analyse } from '../../src/sql/analyse.ts';
import { decide, type Permit } from '../../src/policy/decide.ts';
import { rewrite } from '../../src/rewrite/rewrite.ts';
import { demoDatabaseFile } from '../../src/warehouse/demo-dataset.ts';
import { startTestGateway, TEST_CACHE_DIR } from '../helpers/gateway.ts';
import {
  BENCH_POLICY, BENCH_TOKEN, BENCH_TOKENS, STATEMENTS, envInt, fmt, isMain, openBenchPolicy, ratio, stats, table,
  writeSummary, type Stats,
} from './common.ts';

export interface LatencyRow {
  statement: string;
  rows: number;
  responseBytes: number;
  direct: Stats; directRewritten: Stats; prepare: Stats; prepareRewritten: Stats; bareHttp: Stats; gateway: Stats; gatewayMiss: Stats;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** The bare baseline: authentication header ignored, body parsed, rows streamed as sqlapi does. */
async function startBareServer(rowsBySql: Map<string, { columns: unknown[]; rows: (string | null)[][] }>): Promise<{ url: string; server: Server }> {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use('/api/v2', express.json({ limit: '1mb', type: () => true }));
  app.post('/api/v2/statements', (req, res) => {
    const r = rowsBySql.get(String(req.body?.statement));
    if (!r) { res.status(404).json({ message: 'unknown statement' }); return; }
    res.status(200).type('application/json');
    res.write('{"code":"090001","sqlState":"00000","message":"Statement executed successfully.","statementHandle":"00000000-0000-0000-0000-000000000000","data":[');
    let text = '';
    r.rows.forEach((row, i) => { text += i === 0 ? JSON.stringify(row) : `,${JSON.stringify(row)}`; });
    if (text) res.write(text);
    res.end(`],"resultSetMetaData":${JSON.stringify({ numRows: r.rows.length, format: 'jsonv2', partitionInfo: [{ rowCount: r.rows.length }], rowType: r.columns })}}`);
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function post(url: string, sql: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${url}/api/v2/statements`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_TOKEN}` },
    body: JSON.stringify({ statement: sql }),
  });
  return { status: r.status, text: await r.text() };
}

export async function benchLatency(): Promise<{ rows: LatencyRow[]; requests: number; missRequests: number }> {
  const requests = envInt('PHIGATE_BENCH_REQUESTS', 200);
  const missRequests = envInt('PHIGATE_BENCH_MISS_REQUESTS', 40);
  const warmup = envInt('PHIGATE_BENCH_HTTP_WARMUP', 20);

  // The rewritten text, for the in-engine masking baseline: the gateway's own code computes it.
  const bench = await openBenchPolicy();
  const catalog = await bench.warehouse.catalog();
  const rewritten = new Map<string, string>();
  for (const { sql } of STATEMENTS) {
    const facts = analyse(sql, catalog);
    rewritten.set(sql, rewrite(sql, facts, bench.policy, decide(facts, bench.policy) as Permit, bench.warehouse).sql);
  }
  await bench.warehouse.close();
  rmSync(bench.dir, { recursive: true, force: true });

  const gw = await startTestGateway(BENCH_POLICY, BENCH_TOKENS);
  // Same file, read-only, as an agent with direct credentials would read it.
  const instance = await DuckDBInstance.create(demoDatabaseFile(TEST_CACHE_DIR), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  const direct = async (sql: string) => (await conn.runAndReadAll(sql)).getRows().length;
  const prepare = async (sql: string) => (await conn.prepare(sql)).destroySync();

  // What the gateway returns for each statement, served back by the bare server.
  const captured = new Map<string, { columns: unknown[]; rows: (string | null)[][] }>();
  const bytes = new Map<string, number>();
  for (const { name, sql } of STATEMENTS) {
    const r = await post(gw.url, sql);
    if (r.status !== 200) throw new Error(`gateway refused bench statement "${name}": ${r.status} ${r.text.slice(0, 300)}`);
    const json = JSON.parse(r.text);
    captured.set(sql, { columns: json.resultSetMetaData.rowType, rows: json.data });
    bytes.set(sql, Buffer.byteLength(r.text));
    const n = await direct(sql);
    if (n !== json.data.length) throw new Error(`"${name}": direct DuckDB returned ${n} rows, the gateway ${json.data.length}`);
  }
  const bare = await startBareServer(captured);

  const rows: LatencyRow[] = [];
  let missCounter = 0;
  try {
    for (const { name, sql } of STATEMENTS) {
      const rw = rewritten.get(sql)!;
      const targets: [string, () => Promise<unknown>][] = [
        ['direct', () => direct(sql)],
        ['directRewritten', () => direct(rw)],
        ['prepare', () => prepare(sql)],
        ['prepareRewritten', () => prepare(rw)],
        ['bareHttp', () => post(bare.url, sql)],
        ['gateway', async () => { const r = await post(gw.url, sql); if (r.status !== 200) throw new Error(r.text); }],
      ];
      const samples = new Map<string, number[]>(targets.map(([k]) => [k, []]));
      for (let i = 0; i < warmup + requests; i++) {
        for (const [k, fn] of targets) {
          const t0 = process.hrtime.bigint();
          await fn();
          const t = ms(t0);
          if (i >= warmup) samples.get(k)!.push(t);
        }
      }
      const miss: number[] = [];
      for (let i = 0; i < missRequests; i++) {
        const text = `${sql} /* bench ${++missCounter} */`;
        const t0 = process.hrtime.bigint();
        const r = await post(gw.url, text);
        miss.push(ms(t0));
        if (r.status !== 200) throw new Error(`gateway refused "${name}" with a comment: ${r.text.slice(0, 300)}`);
      }
      rows.push({
        statement: name,
        rows: captured.get(sql)!.rows.length,
        responseBytes: bytes.get(sql)!,
        direct: stats(samples.get('direct')!),
        directRewritten: stats(samples.get('directRewritten')!),
        prepare: stats(samples.get('prepare')!),
        prepareRewritten: stats(samples.get('prepareRewritten')!),
        bareHttp: stats(samples.get('bareHttp')!),
        gateway: stats(samples.get('gateway')!),
        gatewayMiss: stats(miss),
      });
    }
  } finally {
    conn.disconnectSync();
    instance.closeSync();
    await new Promise<void>((resolve) => bare.server.close(() => resolve()));
    bare.server.closeAllConnections();
    await gw.close();
  }
  return { rows, requests, missRequests };
}

export function reportLatency(r: Awaited<ReturnType<typeof benchLatency>>): string {
  const m = (s: Stats) => `${fmt(s.median, 2)} / ${fmt(s.p95, 2)}`;
  const out: string[] = [];
  out.push(`== latency: sequential requests over loopback (ms, median / p95; ${r.requests} requests per target, ${r.missRequests} plan-cache misses) ==`);
  out.push(table(
    ['statement', 'rows', 'bytes', 'direct DuckDB', 'direct (rewritten)', 'prepare', 'prepare (rewritten)', 'bare HTTP', 'gateway', 'gateway (plan miss)'],
    r.rows.map((x) => [x.statement, String(x.rows), String(x.responseBytes), m(x.direct), m(x.directRewritten), m(x.prepare), m(x.prepareRewritten),
      m(x.bareHttp), m(x.gateway), m(x.gatewayMiss)]),
  ));
  out.push('');
  out.push('Medians. added = gateway − direct; masking in engine = direct(rewritten) − direct, of which planning the longer text =');
  out.push('prepare(rewritten) − prepare; phigate own = gateway − bare HTTP − direct(rewritten) (a difference of medians: noisy).');
  out.push(table(
    ['statement', 'gateway / direct', 'gateway / bare HTTP', 'miss / direct', 'added ms', 'masking in engine ms', '  of which planning', 'HTTP ms', 'phigate own ms', 'miss − hit ms'],
    r.rows.map((x) => [x.statement, ratio(x.gateway.median, x.direct.median), ratio(x.gateway.median, x.bareHttp.median),
      ratio(x.gatewayMiss.median, x.direct.median), fmt(x.gateway.median - x.direct.median, 2),
      fmt(x.directRewritten.median - x.direct.median, 2), fmt(x.prepareRewritten.median - x.prepare.median, 2), fmt(x.bareHttp.median, 2),
      fmt(x.gateway.median - x.bareHttp.median - x.directRewritten.median, 2), fmt(x.gatewayMiss.median - x.gateway.median, 2)]),
  ));
  return out.join('\n');
}

if (isMain(import.meta.url)) {
  const r = await benchLatency();
  console.log(reportLatency(r));
  writeSummary(r);
}
