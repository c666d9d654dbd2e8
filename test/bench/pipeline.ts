// Cost of phigate's per-statement work before anything runs, against bare parsing.
//
//   node --import tsx test/bench/pipeline.ts
//
// For each typical statement, per call (median and p95, microseconds):
//   parse        node-sql-parser astify, snowflake grammar, with locations: the baseline
//   analyse      classify (lexer) + parse + bind (names, lineage, predicate columns)
//   decide       policy decision on the analysed facts
//   projections  buildProjection for each table reference (mask expressions), the rewrite's own work
//   rewrite      projections spliced in + recheck (node-sql-parser re-parse of the rewritten
//                text and a walk of its tree)
//   re-parse     node-sql-parser parse of the rewritten text alone, timed alternately with
//                rewrite: "rewrite w/o parse" is the median of the per-pair differences
//   a+d+r        analyse → decide → rewrite, timed as one call
//   cross-check  DuckDB's json_serialize_sql of the rewritten text (plan-cache miss only)
//   plan miss    Pipeline.plan with an empty cache: a+d+r + cross-check + bookkeeping
//   plan hit     Pipeline.plan when the plan is cached (every repeat of a statement)
// Each step: warm-up (PHIGATE_BENCH_WARMUP calls, default 300, at most 1 s), then as many calls
// as fit in PHIGATE_BENCH_BUDGET_MS (default 2000), between 50 and PHIGATE_BENCH_ITER (default 5000).
import { rmSync } from 'node:fs';
import { analyse, parse } from '../../src/sql/analyse.ts';
import { decide, type Permit } from '../../src/policy/decide.ts';
import { buildProjection, rewrite } from '../../src/rewrite/rewrite.ts';
import { Pipeline, type ServedPolicy, type StatementRequest } from '../../src/gateway/pipeline.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { ApprovalService } from '../../src/approvals/service.ts';
import { MemoryApprovalStore } from '../../src/approvals/store.ts';
import {
  STATEMENTS, consume, envInt, fmt, isMain, openBenchPolicy, ratio, table, timeAsync, timePaired, timeSync, writeSummary,
  type Stats, type TimingOptions,
} from './common.ts';

export interface PipelineRow {
  statement: string;
  sqlChars: number;
  rewrittenChars: number;
  parse: Stats; analyse: Stats; bind: Stats; decide: Stats; projections: Stats; rewrite: Stats; reparse: Stats; rewriteOwn: Stats; adr: Stats;
  crossCheck: Stats; planMiss: Stats; planHit: Stats;
}

export async function benchPipeline(): Promise<{ rows: PipelineRow[]; timing: TimingOptions; timerOverheadUs: number }> {
  const timing: TimingOptions = {
    warmup: envInt('PHIGATE_BENCH_WARMUP', 300),
    maxIterations: envInt('PHIGATE_BENCH_ITER', 5000),
    minIterations: 50,
    budgetMs: envInt('PHIGATE_BENCH_BUDGET_MS', 2000),
  };
  const { policy, warehouse, dir } = await openBenchPolicy();
  const catalog = await warehouse.catalog();
  const served: ServedPolicy = { compiled: policy, warehouse };
  const audit = new AuditWriter({ stream: 'bench', sink: () => {} });
  const metrics = new Metrics();
  const approvals = new ApprovalService(new MemoryApprovalStore(), audit, metrics);
  // Pipeline.plan is private; it is the exact code a request runs, so call it as the request does.
  type Planner = { plan(req: StatementRequest, s: ServedPolicy, onFacts: (f: unknown) => void): Promise<unknown> };
  const planOf = (p: Pipeline) => (p as unknown as Planner).plan.bind(p);
  const identity = { user: 'bench-agent', groups: ['agents'] };
  const request = (sql: string): StatementRequest => ({ identity, sql, frontEnd: 'sqlapi', agent: null, session: 's-bench' });

  const timerOverheadUs = timeSync(() => 0, { ...timing, minIterations: timing.maxIterations }).median;
  const rows: PipelineRow[] = [];
  try {
    for (const { name, sql } of STATEMENTS) {
      const facts = analyse(sql, catalog);
      const decision = decide(facts, policy);
      if (decision.outcome === 'denied') throw new Error(`bench statement "${name}" is denied: ${decision.reason}`);
      const permit: Permit = decision;
      const rw = rewrite(sql, facts, policy, permit, warehouse);

      const pa = timePaired(() => analyse(sql, catalog), () => parse(sql), timing);
      const decideS = timeSync(() => decide(facts, policy), timing);
      const projS = timeSync(() => facts.tables.map((t) => buildProjection(t.table, policy, permit, warehouse)), timing);
      const rr = timePaired(() => rewrite(sql, facts, policy, permit, warehouse), () => parse(rw.sql), timing);
      const adrS = timeSync(() => {
        const f = analyse(sql, catalog);
        const d = decide(f, policy) as Permit;
        return rewrite(sql, f, policy, d, warehouse);
      }, timing);
      const crossS = await timeAsync(() => warehouse.crossCheck(rw.sql, rw.expectation), timing);
      // A fresh pipeline per call has an empty plan cache: the first request of a statement.
      const missS = await timeAsync(() => planOf(new Pipeline(() => [served], audit, metrics, approvals))(request(sql), served, consume), timing);
      const warm = planOf(new Pipeline(() => [served], audit, metrics, approvals));
      const req = request(sql);
      await warm(req, served, consume);
      const hitS = await timeAsync(() => warm(req, served, consume), timing);
      rows.push({
        statement: name, sqlChars: sql.length, rewrittenChars: rw.sql.length,
        parse: pa.b, analyse: pa.a, bind: pa.diff, decide: decideS, projections: projS, rewrite: rr.a, reparse: rr.b, rewriteOwn: rr.diff, adr: adrS,
        crossCheck: crossS, planMiss: missS, planHit: hitS,
      });
    }
  } finally {
    await warehouse.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, timing, timerOverheadUs };
}

export function reportPipeline(r: Awaited<ReturnType<typeof benchPipeline>>): string {
  const us = (s: Stats) => `${fmt(s.median)} / ${fmt(s.p95)}`;
  const out: string[] = [];
  const ns = r.rows.flatMap((x) => [x.parse.n, x.rewrite.n, x.planHit.n]);
  out.push(`== pipeline: per-statement cost before execution (µs, median / p95; ${Math.min(...ns)}–${Math.max(...ns)} timed calls per step after warm-up; timer overhead ${fmt(r.timerOverheadUs, 2)} µs) ==`);
  out.push(table(
    ['statement', 'chars in→out', 'parse (baseline)', 'analyse', 'decide', 'projections', 'rewrite', 're-parse', 'cross-check', 'plan miss', 'plan hit'],
    r.rows.map((x) => [x.statement, `${x.sqlChars}→${x.rewrittenChars}`, us(x.parse), us(x.analyse), us(x.decide), us(x.projections), us(x.rewrite),
      us(x.reparse), us(x.crossCheck), us(x.planMiss), us(x.planHit)]),
  ));
  out.push('');
  out.push('Medians, µs. bind = analyse − parse; rewrite w/o parse = rewrite − re-parse (medians of paired differences, so noisy');
  out.push('when the re-parse is large). decide+projections is measured directly: the decision and rewrite cost excluding all parsing.');
  out.push(table(
    ['statement', 'bind', 'decide+projections', 'rewrite w/o parse', 'decide+rewrite', 'a+d+r', 'a+d+r / parse', 're-parse / parse', '(a+d+r+xcheck) / parse', 'plan hit / parse'],
    r.rows.map((x) => [x.statement, fmt(x.bind.median), fmt(x.decide.median + x.projections.median), fmt(x.rewriteOwn.median),
      fmt(x.decide.median + x.rewrite.median), fmt(x.adr.median), ratio(x.adr.median, x.parse.median), ratio(x.reparse.median, x.parse.median),
      ratio(x.adr.median + x.crossCheck.median, x.parse.median), ratio(x.planHit.median, x.parse.median)]),
  ));
  return out.join('\n');
}

if (isMain(import.meta.url)) {
  const r = await benchPipeline();
  console.log(reportPipeline(r));
  writeSummary(r);
}
