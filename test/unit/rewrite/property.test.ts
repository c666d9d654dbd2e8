// Issue 11, "Done means": property tests of the masked rewrite. Random compositions of alias,
// CTE, derived table, set operation, join, IN/EXISTS/scalar subquery and LATERAL (nesting depth
// 1-4) around protected columns go through analyse → decide → rewrite:
//   1. with the demo catalog and a fake warehouse whose mask expressions are recognisable
//      (MASK_<STRATEGY>(col)): node-sql-parser's own reading of the rewritten text must show
//      every base-table reference at a position the rewrite reported, inside the exact masked
//      projection of that table, and every other reference must be a CTE the analyser bound;
//   2. against the real DuckDB warehouse on the demo dataset: the engine cross-check passes and
//      executing the rewritten SQL never returns a raw protected value.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import nsp from 'node-sql-parser';
import { analyse } from '../../../src/sql/analyse.ts';
import { decide, type Permit } from '../../../src/policy/decide.ts';
import { compilePolicy, type CompiledPolicy } from '../../../src/policy/compile.ts';
import { buildProjection, rewrite } from '../../../src/rewrite/rewrite.ts';
import { openDuckDBWarehouse } from '../../../src/warehouse/duckdb.ts';
import { hashPrefixes } from '../../../src/warehouse/duckdb-sql.ts';
import { demoDatabasePath } from '../../../src/warehouse/demo-dataset.ts';
import type { AccessPolicy } from '../../../src/api/types.ts';
import type { Warehouse } from '../../../src/warehouse/types.ts';
import { demoCatalog } from '../../fixtures/catalog.ts';
import { compiledTestPolicy, testPolicy } from '../../fixtures/policy.ts';
import { textOnlyWarehouse } from '../../fixtures/fake-warehouse.ts';
import { TEST_CACHE_DIR } from '../../helpers/gateway.ts';
import { findProtected, isProtectedDateCell, readProtectedValues, type ProtectedValues } from '../../fixtures/hostile-sql.ts';

const RUNS = 200;
const HASH_KEY = 'property-test-key';
const parser = new nsp.Parser();

// ---------------------------------------------------------------------------------------------
// Shapes: plain data fast-check can generate and shrink; rendered to SQL afterwards.

type Table = 'patients' | 'encounters';
const COLUMNS: Record<Table, string[]> = {
  // Every column of patients; of encounters, the ones the test policy allows.
  patients: ['patient_id', 'ssn', 'mrn', 'dob', 'phone', 'email', 'first_name', 'last_name', 'address', 'zip', 'notes', 'city', 'sex'],
  encounters: ['patient_id', 'encounter_id', 'admit_date', 'diagnosis_code'],
};
/** How the base table is written: bare, aliased, schema- and catalog-qualified, quoted. */
const FORMS = ['{t}', '{t} AS b', '{t} b', 'main.{t}', 'clinical.main.{t}', '"{t}"', 'CLINICAL.MAIN.{T}'] as const;

type Shape =
  | { k: 'base'; table: Table; form: number; cols: string[]; filter: boolean }
  | { k: 'alias'; inner: Shape; star: boolean }
  | { k: 'cte'; inner: Shape; twice: boolean }
  | { k: 'union'; left: Shape; right: Shape; all: boolean }
  | { k: 'join'; left: Shape; right: Shape; kind: 'JOIN' | 'LEFT JOIN' | 'CROSS JOIN' }
  | { k: 'in'; outer: Shape; inner: Shape; exists: boolean }
  | { k: 'scalar'; outer: Shape; inner: Shape }
  | { k: 'lateral'; outer: Shape; inner: Shape };

const baseArb: fc.Arbitrary<Shape> = fc.constantFrom<Table>('patients', 'encounters').chain((table) =>
  fc.record({
    k: fc.constant('base' as const),
    table: fc.constant(table),
    form: fc.nat({ max: FORMS.length - 1 }),
    cols: fc.subarray(COLUMNS[table].slice(1), { minLength: 1, maxLength: 2 }).map((c) => ['patient_id', ...c]),
    filter: fc.boolean(),
  }));

function shapes(maxDepth: number): fc.Arbitrary<Shape>[] {
  const byDepth: fc.Arbitrary<Shape>[] = [baseArb];
  for (let d = 1; d <= maxDepth; d++) {
    // Depth grows along the first operand; the second stays shallow, so a statement's size
    // grows linearly with its depth (node-sql-parser reads about 10 ms per kilobyte here).
    const sub = byDepth[d - 1]!;
    const side = byDepth[Math.min(1, d - 1)]!;
    byDepth.push(fc.oneof(
      { weight: 1, arbitrary: baseArb },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('alias' as const), inner: sub, star: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('cte' as const), inner: sub, twice: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('union' as const), left: sub, right: side, all: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('join' as const), left: sub, right: side, kind: fc.constantFrom('JOIN' as const, 'LEFT JOIN' as const, 'CROSS JOIN' as const) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('in' as const), outer: sub, inner: side, exists: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('scalar' as const), outer: sub, inner: side }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('lateral' as const), outer: sub, inner: side }) },
    ));
  }
  return byDepth;
}
const BY_DEPTH = shapes(4);
/** A shape of nesting depth 1 to 4 (a level may still choose a base table). */
const shapeArb = fc.integer({ min: 1, max: 4 }).chain((d) => BY_DEPTH[d]!);

interface Rendered { sql: string; cols: string[]; baseRefs: number }
interface Statement { sql: string; baseRefs: number; ctes: string[] }

/**
 * Renders a shape; CTE definitions are hoisted into `ctes` (in dependency order). With
 * `filterAll`, every base table keeps only patients 1-3 and the canary, so that any composition
 * (a CROSS JOIN of two whole tables included) executes in milliseconds.
 */
function render(shape: Shape, filterAll = false): Statement {
  let n = 0;
  const ctes: string[] = [];
  const cteNames: string[] = [];
  const fresh = (p: string) => `${p}${++n}`;
  const go = (s: Shape): Rendered => {
    switch (s.k) {
      case 'base': {
        const ref = FORMS[s.form]!.replace('{t}', s.table).replace('{T}', s.table.toUpperCase());
        return { sql: `SELECT ${s.cols.join(', ')} FROM ${ref}${s.filter || filterAll ? ' WHERE patient_id IN (1, 2, 3, 10001)' : ''}`, cols: s.cols, baseRefs: 1 };
      }
      case 'alias': {
        const r = go(s.inner); const a = fresh('a');
        return { sql: `SELECT ${s.star ? '*' : r.cols.map((c) => `${a}.${c}`).join(', ')} FROM (${r.sql}) AS ${a}`, cols: r.cols, baseRefs: r.baseRefs };
      }
      case 'cte': {
        const r = go(s.inner); const c = fresh('c');
        ctes.push(`${c} AS (${r.sql})`);
        cteNames.push(c);
        const sql = s.twice
          ? `SELECT ${r.cols.map((x) => `${c}.${x}`).join(', ')} FROM ${c} WHERE ${c}.patient_id IN (SELECT patient_id FROM ${c})`
          : `SELECT ${r.cols.join(', ')} FROM ${c}`;
        return { sql, cols: r.cols, baseRefs: r.baseRefs };
      }
      case 'union': {
        const l = go(s.left); const r = go(s.right);
        const cols = l.cols.filter((c) => r.cols.includes(c));
        const [x, y] = [fresh('l'), fresh('r')];
        return {
          sql: `SELECT ${cols.join(', ')} FROM (${l.sql}) ${x} UNION${s.all ? ' ALL' : ''} SELECT ${cols.join(', ')} FROM (${r.sql}) ${y}`,
          cols, baseRefs: l.baseRefs + r.baseRefs,
        };
      }
      case 'join': {
        const l = go(s.left); const r = go(s.right);
        const [x, y] = [fresh('x'), fresh('y')];
        const right = r.cols.filter((c) => !l.cols.includes(c));
        const on = s.kind === 'CROSS JOIN' ? '' : ` ON ${x}.patient_id = ${y}.patient_id`;
        return {
          sql: `SELECT ${[`${x}.*`, ...right.map((c) => `${y}.${c}`)].join(', ')} FROM (${l.sql}) ${x} ${s.kind} (${r.sql}) ${y}${on}`,
          cols: [...l.cols, ...right], baseRefs: l.baseRefs + r.baseRefs,
        };
      }
      case 'in': {
        const o = go(s.outer); const i = go(s.inner);
        const [x, y] = [fresh('o'), fresh('i')];
        const cond = s.exists
          ? `EXISTS (SELECT 1 FROM (${i.sql}) ${y} WHERE ${y}.patient_id = ${x}.patient_id)`
          : `${x}.patient_id IN (SELECT ${y}.patient_id FROM (${i.sql}) ${y})`;
        return { sql: `SELECT ${x}.* FROM (${o.sql}) ${x} WHERE ${cond}`, cols: o.cols, baseRefs: o.baseRefs + i.baseRefs };
      }
      case 'scalar': {
        const o = go(s.outer); const i = go(s.inner);
        const [x, y, v] = [fresh('o'), fresh('i'), fresh('v')];
        const pick = i.cols[i.cols.length - 1]!;
        return {
          sql: `SELECT ${x}.*, (SELECT MAX(${y}.${pick}) FROM (${i.sql}) ${y} WHERE ${y}.patient_id = ${x}.patient_id) AS ${v} FROM (${o.sql}) ${x}`,
          cols: [...o.cols, v], baseRefs: o.baseRefs + i.baseRefs,
        };
      }
      case 'lateral': {
        const o = go(s.outer); const i = go(s.inner);
        const [x, y] = [fresh('o'), fresh('i')];
        const extra = i.cols.filter((c) => !o.cols.includes(c));
        const inner = `SELECT ${[`${y}.patient_id AS patient_id_${n}`, ...extra.map((c) => `${y}.${c}`)].join(', ')} FROM (${i.sql}) ${y} WHERE ${y}.patient_id = ${x}.patient_id`;
        const lat = fresh('t');
        return {
          sql: `SELECT ${[`${x}.*`, ...extra.map((c) => `${lat}.${c}`)].join(', ')} FROM (${o.sql}) ${x} CROSS JOIN LATERAL (${inner}) ${lat}`,
          cols: [...o.cols, ...extra], baseRefs: o.baseRefs + i.baseRefs,
        };
      }
    }
  };
  const r = go(shape);
  const sql = `${ctes.length ? `WITH ${ctes.join(', ')} ` : ''}${r.sql} LIMIT 50`;
  return { sql, baseRefs: r.baseRefs, ctes: cteNames };
}

// ---------------------------------------------------------------------------------------------
// Our own reading of a parse tree: every FROM item that names a table, anywhere.

interface ParsedRef { name: string; qualified: boolean; start: number }

function tableRefs(sql: string): ParsedRef[] {
  const ast = parser.astify(sql, { database: 'snowflake', parseOptions: { includeLocations: true } } as any);
  const out: ParsedRef[] = [];
  const walk = (node: any): void => {
    if (Array.isArray(node)) { node.forEach(walk); return; }
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node.from)) {
      for (const item of node.from) {
        if (item && typeof item.table === 'string') {
          assert.ok(item.loc, `a table reference without a position in ${sql}`);
          out.push({ name: item.table, qualified: !!(item.db || item.schema), start: item.loc.start.offset });
        }
      }
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc' && k !== 'surround') walk(v);
  };
  walk(ast);
  return out;
}

// ---------------------------------------------------------------------------------------------

const fakePolicy = compiledTestPolicy();

/** The demo policy's masking (every protected column masked), over the test policy's access. */
const STRONG_MASKING: AccessPolicy['spec']['masking'] = {
  rules: [
    { columns: ['PATIENTS.SSN', 'PATIENTS.FIRST_NAME', 'PATIENTS.LAST_NAME', 'PATIENTS.ADDRESS'], strategy: 'redact' },
    { columns: ['PATIENTS.MRN'], strategy: 'hash' },
    { columns: ['PATIENTS.DOB'], strategy: 'year' },
    { columns: ['PATIENTS.ZIP'], strategy: 'zip3' },
    { columns: ['*.PHONE'], strategy: 'partial', keep: 4 },
    { columns: ['*.EMAIL'], strategy: 'email_domain' },
    { columns: ['*.NOTES'], strategy: 'scrub' },
  ],
  // The identifier detectors only: every detector's REGEXP_REPLACE goes into each scrubbed
  // column of the projection, and re-parsing the longest ones (date, ip) would cost seconds here.
  // test/integration/hostile.test.ts runs with all of them.
  detectors: ['ssn', 'phone', 'email', 'mrn'],
};

describe('masked rewrite: properties', () => {
  it(`every base-table reference lands inside its masked projection (${RUNS} random compositions)`, (t) => {
    let refs = 0, cteRefs = 0, maxLen = 0;
    const patients = buildProjection(demoCatalog().find({ table: 'patients' })!, fakePolicy, { unmask: new Set() }, textOnlyWarehouse);
    // The fake warehouse's masks are recognisable: each protected column is a MASK_ call.
    for (const m of ['MASK_REDACT("ssn")', 'MASK_HASH("mrn")', 'MASK_YEAR("dob")', 'MASK_REDACT("email")']) assert.ok(patients.prefix.includes(m), m);
    fc.assert(fc.property(shapeArb, (shape) => {
      const stmt = render(shape);
      maxLen = Math.max(maxLen, stmt.sql.length);
      const facts = analyse(stmt.sql, demoCatalog());
      const permit = decide(facts, fakePolicy) as Permit;
      assert.notEqual(permit.outcome, 'denied', `${stmt.sql}: ${(permit as any).rule} ${(permit as any).reason}`);
      const rw = rewrite(stmt.sql, facts, fakePolicy, permit, textOnlyWarehouse);
      assert.equal(facts.tables.length, stmt.baseRefs, 'the analyser finds every base-table reference');
      assert.equal(rw.expectation.projectionTables.length, stmt.baseRefs);
      const projections = new Map(rw.expectation.projectionTables.map((p) => [p.start, p]));
      const cteStarts = new Set(rw.expectation.cteReferences.map((c) => c.start));
      const seen = tableRefs(rw.sql);
      let base = 0;
      for (const ref of seen) {
        if (!ref.qualified && stmt.ctes.includes(ref.name.toLowerCase())) {
          assert.ok(cteStarts.has(ref.start), `CTE reference ${ref.name} at ${ref.start} was bound by the analyser`);
          cteRefs++;
          continue;
        }
        base++;
        const p = projections.get(ref.start);
        assert.ok(p, `table reference ${ref.name} at ${ref.start} is one the rewrite placed: ${rw.sql}`);
        const proj = buildProjection(p.table, fakePolicy, { unmask: new Set() }, textOnlyWarehouse, new Set(facts.columns));
        assert.equal(rw.sql.slice(p.start, p.end), proj.fq, 'the reference is the fully qualified table');
        assert.equal(rw.sql.slice(p.start - proj.prefix.length, p.start), proj.prefix, 'it sits right after the projection\'s select list');
        assert.equal(rw.sql.slice(p.end, p.end + proj.suffix.length), proj.suffix, 'and closes the projection');
      }
      assert.equal(base, stmt.baseRefs, 'the parser reads exactly the base-table references the rewrite placed');
      refs += base;
    }), { numRuns: RUNS, seed: 11 });
    t.diagnostic(`${RUNS} statements, ${refs} base-table references inside projections, ${cteRefs} CTE references; longest statement ${maxLen} chars`);
  });

  describe('against the real DuckDB warehouse', () => {
    let wh: Warehouse;
    let policy: CompiledPolicy;
    let pv: ProtectedValues;
    before(async () => {
      wh = await openDuckDBWarehouse({ path: ':demo:' }, { readOnly: true, cacheDir: TEST_CACHE_DIR });
      policy = compilePolicy(testPolicy({ masking: STRONG_MASKING }), await wh.catalog(), { hashKey: HASH_KEY });
      pv = await readProtectedValues(await demoDatabasePath({ cacheDir: TEST_CACHE_DIR }));
    });
    after(async () => { await wh?.close(); });

    it(`executing the rewritten SQL never returns a raw protected value (${RUNS} random compositions)`, async (t) => {
      let rows = 0, cells = 0;
      const catalog = await wh.catalog();
      const secrets = [HASH_KEY, ...Object.values(hashPrefixes(HASH_KEY))];
      await fc.assert(fc.asyncProperty(shapeArb, async (shape) => {
        const stmt = render(shape, true);
        const facts = analyse(stmt.sql, catalog);
        const permit = decide(facts, policy) as Permit;
        assert.notEqual(permit.outcome, 'denied', `${stmt.sql}: ${(permit as any).rule} ${(permit as any).reason}`);
        const rw = rewrite(stmt.sql, facts, policy, permit, wh);
        await wh.crossCheck(rw.sql, rw.expectation);
        const rs = await wh.execute(rw.sql, { maxRows: 200, timeoutMs: 5_000 });
        const dates = rs.columns.map((c) => c.type === 'date');
        // Column names reach the agent too: none may carry the rewritten text's keyed prefixes.
        for (const c of rs.columns) for (const secret of secrets) assert.ok(!c.name.includes(secret), `hash key material in column name of ${stmt.sql}`);
        const text: string[] = [];
        for await (const chunk of rs.chunks) {
          for (const row of chunk) {
            rows++;
            row.forEach((v, i) => {
              cells++;
              if (v !== null) text.push(v);
              assert.ok(!(dates[i] && isProtectedDateCell(v, pv)), `raw DOB ${v} in column ${rs.columns[i]!.name} of ${stmt.sql}`);
            });
          }
        }
        assert.deepEqual(findProtected(text.join('\n'), pv), [], stmt.sql);
      }), { numRuns: RUNS, seed: 11 });
      t.diagnostic(`${RUNS} statements executed, ${rows} rows and ${cells} cells scanned, no raw protected value`);
    });
  });
});
