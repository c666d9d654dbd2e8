// Issue 11, "Done means": every statement of the hostile corpus goes through the real gateway
// over HTTP, and the test counts what comes back. Nothing protected may leave the gateway (in a
// response body, an error message or an audit line), probe pairs must answer alike, every
// request leaves exactly one statement record in a chain that verifies, and nothing that
// mutates or exports may run: the DuckDB file, its tables and the filesystem stay as they were.
//
// The statements live in test/fixtures/hostile-sql.ts. A failure here is a finding for the
// owner of src/sql (or src/rewrite, src/warehouse): fix it there, never by editing the corpus.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { startTestGateway, TOKENS, TEST_CACHE_DIR, type TestGateway } from '../helpers/gateway.ts';
import { CANARY, demoDatabasePath } from '../../src/warehouse/demo-dataset.ts';
import { verifyAuditLog } from '../../src/audit/verify.ts';
import { fingerprint } from '../../src/gateway/pipeline.ts';
import { hashPrefixes } from '../../src/warehouse/duckdb-sql.ts';
import {
  HOSTILE_POLICY, HOSTILE_STATEMENTS, PROBE_PAIRS, REAL, REFUSED_CATEGORIES, WRITE_TARGETS,
  findProtected, isProtectedDateCell, readProtectedValues,
  type HostileCategory, type ProtectedValues,
} from '../fixtures/hostile-sql.ts';

/** The policy's hash key and the keyed prefixes the DuckDB rewrite derives from it. */
const HASH_KEY = /hashKey: (\S+) \}/.exec(HOSTILE_POLICY)![1]!;
const SECRETS = [HASH_KEY, ...Object.values(hashPrefixes(HASH_KEY))];

/** Categories the corpus must cover (issue 11). */
const REQUIRED_CATEGORIES: HostileCategory[] = [
  'from', 'join', 'cte', 'recursive-cte', 'derived-table', 'set-operation', 'subquery', 'lateral',
  'table-function', 'reader', 'file-path', 'stage', 'identifier-table', 'result-scan', 'obfuscation',
  'dialect-duckdb', 'dialect-snowflake', 'string-escape', 'parser-differential', 'multi-statement',
  'inference-predicate', 'inference-function', 'inference-join', 'inference-grouping', 'inference-ordering',
  'inference-window', 'error-channel', 'catalog', 'side-effect', 'write',
];

interface Outcome {
  id: string;
  category: string;
  sql: string;
  status: number;
  rule: string | null;
  message: string | null;
  text: string;
  json: any;
  audit: string[];
}

let gw: TestGateway | undefined;
let pv: ProtectedValues;
let dbFile: string;
let before_: Snapshot;
let workDir: string;
const originalCwd = process.cwd();
const outcomes: Outcome[] = [];
const probes: { id: string; column: string; a: Outcome; b: Outcome }[] = [];

async function send(id: string, category: string, sql: string): Promise<Outcome> {
  const from = gw!.audit.length;
  const r = await gw!.post('tok-a', { statement: sql });
  return {
    id, category, sql, status: r.status, rule: r.json?.rule ?? null, message: r.json?.message ?? null,
    text: r.text, json: r.json, audit: gw!.audit.slice(from),
  };
}

before(async () => {
  dbFile = await demoDatabasePath({ cacheDir: TEST_CACHE_DIR });
  // Our own marker names: a copy left by an earlier run that wrote one would hide a new write.
  for (const p of WRITE_TARGETS.absolute) rmSync(p, { recursive: true, force: true });
  before_ = await snapshot(dbFile);
  pv = await readProtectedValues(dbFile);
  // The gateway runs with an empty temporary directory as its cwd: relative paths land there.
  workDir = mkdtempSync(join(tmpdir(), 'phigate-hostile-cwd-'));
  process.chdir(workDir);
  gw = await startTestGateway(HOSTILE_POLICY, TOKENS);
  for (const s of HOSTILE_STATEMENTS) outcomes.push(await send(s.id, s.category, s.sql));
  for (const p of PROBE_PAIRS) {
    probes.push({ id: p.id, column: p.column, a: await send(`${p.id}/a`, 'probe', p.a), b: await send(`${p.id}/b`, 'probe', p.b) });
  }
});

after(async () => {
  await gw?.close();
  gw = undefined;
  process.chdir(originalCwd);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const all = () => [...outcomes, ...probes.flatMap((p) => [p.a, p.b])];
const byStatus = (list: Outcome[]) => {
  const m: Record<string, number> = {};
  for (const o of list) { const k = o.status === 200 ? '200' : `${o.status} ${o.rule}`; m[k] = (m[k] ?? 0) + 1; }
  return Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
};

describe('hostile corpus through the gateway', () => {
  it('covers every required category with at least 220 statements', (t) => {
    const ids = HOSTILE_STATEMENTS.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length, 'statement ids are unique');
    const cats = new Map<string, number>();
    for (const s of HOSTILE_STATEMENTS) cats.set(s.category, (cats.get(s.category) ?? 0) + 1);
    t.diagnostic(`statements: ${HOSTILE_STATEMENTS.length} in ${cats.size} categories; probe pairs: ${PROBE_PAIRS.length}`);
    t.diagnostic([...cats].map(([c, n]) => `${c}=${n}`).join(' '));
    assert.ok(HOSTILE_STATEMENTS.length >= 220);
    for (const c of REQUIRED_CATEGORIES) assert.ok(cats.has(c), `category ${c} is covered`);
    assert.ok(PROBE_PAIRS.length >= 20);
  });

  it('names the real values of the dataset it probes', async () => {
    const db = await DuckDBInstance.create(dbFile, { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    try {
      for (const r of REAL) {
        const [row] = (await conn.runAndReadAll(`SELECT mrn, ssn, first_name, last_name, CAST(dob AS VARCHAR), zip, phone, email, address
          FROM patients WHERE patient_id = ${r.patientId}`)).getRowsJS();
        assert.deepEqual(row, [r.mrn, r.ssn, r.firstName, r.lastName, r.dob, r.zip, r.phone, r.email, r.address]);
      }
    } finally {
      conn.disconnectSync();
      db.closeSync();
    }
  });

  it('its leak scanner finds raw values where they are (positive control)', async () => {
    const db = await DuckDBInstance.create(dbFile, { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    try {
      const rows = (await conn.runAndReadAll(`SELECT ssn, mrn, phone, email, first_name || ' ' || last_name, address, CAST(dob AS VARCHAR), notes
        FROM patients WHERE patient_id IN (1, 2, 10001) ORDER BY patient_id`)).getRowsJS();
      const text = JSON.stringify({ data: rows });
      const kinds = new Set(findProtected(text, pv).map((h) => h.slice(0, h.indexOf(':'))));
      for (const k of ['ssn', 'mrn', 'phone', 'email', 'full-name', 'address', 'dob-iso', 'canary-ssn', 'canary-note', 'canary-last-name']) {
        assert.ok(kinds.has(k), `the scanner finds ${k} in raw rows (found: ${[...kinds].join(', ')})`);
      }
      assert.deepEqual(findProtected(text, pv, text), [], 'values the agent typed itself are exempt');
      const days = String((await conn.runAndReadAll(`SELECT CAST(dob - DATE '1970-01-01' AS VARCHAR) FROM patients WHERE patient_id = 2`)).getRowsJS()[0]?.[0]);
      assert.ok(isProtectedDateCell(days, pv), 'a real DOB as a DATE cell (days since 1970) is found');
    } finally {
      conn.disconnectSync();
      db.closeSync();
    }
  });

  it('no response body, error message or audit line carries a canary or real protected value', (t) => {
    const leaks: string[] = [];
    let scannedCells = 0, dateCells = 0, auditLines = 0, echoes = 0;
    for (const o of all()) {
      const where = new Set<string>();
      if (o.status === 200) {
        const data: (string | null)[][] = o.json?.data ?? [];
        const types: string[] = (o.json?.resultSetMetaData?.rowType ?? []).map((c: any) => c.type);
        const cells: string[] = [];
        for (const row of data) {
          row.forEach((v, i) => {
            scannedCells++;
            if (v !== null) cells.push(v);
            if (types[i] === 'date') { dateCells++; if (isProtectedDateCell(v, pv)) where.add(`data: DATE cell ${v} is a real DOB`); }
          });
        }
        // Nothing is exempt in the data: a value the agent typed may not come back from a table.
        for (const h of findProtected(cells.join('\n'), pv)) where.add(`data: ${h}`);
        // Elsewhere in the body (column names) an echo of the agent's own text discloses nothing.
        for (const h of findProtected(o.text, pv, o.sql)) where.add(`body: ${h}`);
      } else {
        // An error may echo what the agent itself typed; anything else is a leak.
        const own = findProtected(o.text, pv).length;
        const hits = findProtected(o.text, pv, o.sql);
        echoes += own - hits.length;
        for (const h of hits) where.add(`${o.status} ${o.rule}: ${h}`);
      }
      for (const line of o.audit) {
        auditLines++;
        const rec = JSON.parse(line);
        const sql: string = rec.statement?.sql ?? '';
        // The audit record keeps the agent's statement: what it typed there is not a disclosure.
        for (const h of findProtected(sql, pv, o.sql)) where.add(`audit ${rec.event}.statement.sql: ${h}`);
        if (rec.statement) rec.statement.sql = '';
        for (const h of findProtected(JSON.stringify(rec), pv)) where.add(`audit ${rec.event}: ${h}`);
      }
      // Neither the hash key nor the keyed prefixes the rewrite embeds may leave the gateway.
      for (const secret of SECRETS) {
        if (o.text.includes(secret)) where.add('body: hash key material');
        if (o.audit.some((l) => l.includes(secret))) where.add('audit: hash key material');
      }
      if (where.size) leaks.push(`${o.id} [${o.status}${o.rule ? ` ${o.rule}` : ''}] ${JSON.stringify(o.sql).slice(0, 160)} → ${[...where].join('; ')}`);
    }
    t.diagnostic(`requests: ${all().length}; 200 responses: ${all().filter((o) => o.status === 200).length}; cells scanned: ${scannedCells} (DATE cells: ${dateCells}); audit lines scanned: ${auditLines}`);
    t.diagnostic(`forbidden values: ${Object.entries(pv.counts).map(([k, n]) => `${k}=${n}`).join(' ')}; left out: ${Object.entries(pv.excluded).map(([k, n]) => `${k}=${n}`).join(' ')}`);
    t.diagnostic(`errors that only echo the agent's own input: ${echoes}`);
    // What the keyed prefixes give an agent: the hash of any guess, so every hashed MRN can be
    // recovered by trying all of them. Shown for the canary when the prefixes did leak.
    if (leaks.some((l) => l.includes('hash key material'))) {
      const { inner, outer } = hashPrefixes(HASH_KEY);
      const h = (s: string) => createHash('sha256').update(s).digest('hex');
      const guess = h(outer + h(inner + CANARY.mrn));
      const masked = outcomes.find((o) => o.id === 'from-01')?.json?.data?.[0]?.[1];
      t.diagnostic(`with the leaked prefixes an agent computes sha256(outer || sha256(inner || '${CANARY.mrn}')) = ${guess.slice(0, 16)}…; the canary's masked MRN is ${String(masked).slice(0, 16)}… (equal: ${guess === masked})`);
    }
    t.diagnostic(`statements that leaked: ${leaks.length}`);
    for (const l of leaks) t.diagnostic(`LEAK ${l}`);
    assert.deepEqual(leaks, []);
  });

  it('nothing crashes the gateway; every answer is a result or a typed refusal', async (t) => {
    t.diagnostic(`corpus outcomes: ${byStatus(outcomes)}`);
    const bad = all().filter((o) => o.status >= 500 || o.status === 0 || (o.status !== 200 && !o.rule));
    for (const o of bad) t.diagnostic(`CRASH ${o.id} ${o.status} ${o.rule} ${JSON.stringify(o.sql).slice(0, 120)}`);
    t.diagnostic(`crashes: ${bad.length}`);
    assert.deepEqual(bad.map((o) => `${o.id} ${o.status}`), []);
    if (gw) assert.equal((await gw.get('/healthz')).status, 200);
  });

  it('refuses every statement that mutates, exports or changes the session, and every mustRefuse one', (t) => {
    const must = new Set(HOSTILE_STATEMENTS.filter((s) => REFUSED_CATEGORIES.has(s.category) || s.mustRefuse).map((s) => s.id));
    const list = outcomes.filter((o) => must.has(o.id));
    const ran = list.filter((o) => o.status === 200);
    const reachedEngine = list.filter((o) => o.rule === 'warehouse_error');
    t.diagnostic(`must be refused: ${list.length}; refused: ${list.length - ran.length}; ran: ${ran.length}; refused only by the warehouse: ${reachedEngine.length}`);
    t.diagnostic(`refusals by rule: ${byStatus(list)}`);
    for (const o of ran) t.diagnostic(`RAN ${o.id} ${JSON.stringify(o.sql).slice(0, 160)}`);
    assert.deepEqual(ran.map((o) => o.id), []);
  });

  it('probe pairs get identical answers when the probed column is masked', (t) => {
    const differ: string[] = [];
    for (const p of probes) {
      const view = (o: Outcome) => JSON.stringify({ status: o.status, rule: o.rule, data: o.json?.data ?? null });
      if (view(p.a) !== view(p.b)) differ.push(`${p.id} (${p.column}): a → ${view(p.a).slice(0, 200)} | b → ${view(p.b).slice(0, 200)}`);
    }
    const answered = probes.filter((p) => p.a.status === 200).length;
    t.diagnostic(`probe pairs: ${probes.length}; identical: ${probes.length - differ.length}; differ: ${differ.length}; answered (200): ${answered}`);
    for (const d of differ) t.diagnostic(`DIFFER ${d}`);
    assert.deepEqual(differ, []);
  });

  it('every request leaves exactly one statement record, and the audit chain verifies', (t) => {
    const wrong: string[] = [];
    let statementRecords = 0, resultRecords = 0;
    for (const o of all()) {
      const recs = o.audit.map((l) => JSON.parse(l));
      const st = recs.filter((r) => r.event === 'statement');
      statementRecords += st.length;
      resultRecords += recs.filter((r) => r.event === 'result').length;
      if (st.length !== 1) wrong.push(`${o.id}: ${st.length} statement records`);
      else if (st[0].statement?.fingerprint !== fingerprint(o.sql)) wrong.push(`${o.id}: statement record for another statement`);
      else if ((o.status === 200) !== (st[0].decision?.outcome === 'masked' || st[0].decision?.outcome === 'allowed')) {
        wrong.push(`${o.id}: outcome ${st[0].decision?.outcome} for HTTP ${o.status}`);
      }
    }
    const v = verifyAuditLog(gw!.audit.join('\n'));
    t.diagnostic(`requests: ${all().length}; statement records: ${statementRecords}; result records: ${resultRecords}; audit lines: ${gw!.audit.length}; chain ok: ${v.ok}`);
    for (const w of wrong) t.diagnostic(`AUDIT ${w}`);
    assert.deepEqual(wrong, []);
    assert.equal(v.ok, true, JSON.stringify((v as any).firstBreak ?? v));
  });

  it('leaves the warehouse byte-for-byte as it was and writes no files', async (t) => {
    await gw?.close();
    gw = undefined;
    process.chdir(originalCwd);
    const now = await snapshot(dbFile);
    const written = [
      ...WRITE_TARGETS.absolute.filter((p) => existsSync(p)),
      ...WRITE_TARGETS.relative.filter((p) => existsSync(join(workDir, p)) || existsSync(join(originalCwd, p))),
      ...readdirSync(workDir).map((f) => `cwd/${f}`),
    ];
    t.diagnostic(`database file sha256 before ${before_.fileSha.slice(0, 16)}… after ${now.fileSha.slice(0, 16)}…; tables dumped: ${Object.keys(before_.dump).length}; files next to the database: ${before_.dirListing.length}`);
    t.diagnostic(`files written by statements: ${written.length}`);
    assert.equal(now.fileSha, before_.fileSha, 'the DuckDB file is unchanged');
    assert.deepEqual(now.dump, before_.dump, 'every table, view, macro and sequence is unchanged');
    assert.deepEqual(now.dirListing, before_.dirListing, 'no file appeared in the cache directory (no WAL, no export)');
    assert.deepEqual(written, []);
  });
});

// ---------------------------------------------------------------------------------------------

interface Snapshot { fileSha: string; dump: Record<string, string>; dirListing: string[] }

async function snapshot(file: string): Promise<Snapshot> {
  const fileSha = createHash('sha256').update(readFileSync(file)).digest('hex');
  // The directory of the database file: a WAL, an export or a temp file would appear here.
  const dirListing = listTree(dirname(file));
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  const dump: Record<string, string> = {};
  const hashOf = async (sql: string) => {
    const h = createHash('sha256');
    const rows = (await conn.runAndReadAll(sql)).getRowsJS();
    for (const r of rows) h.update(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).update('\n');
    return `${rows.length} rows ${h.digest('hex')}`;
  };
  try {
    const objects = `SELECT 'table' AS kind, schema_name, table_name AS name FROM duckdb_tables() WHERE NOT internal
      UNION ALL SELECT 'view', schema_name, view_name FROM duckdb_views() WHERE NOT internal
      UNION ALL SELECT 'sequence', schema_name, sequence_name FROM duckdb_sequences()
      UNION ALL SELECT 'macro', schema_name, function_name FROM duckdb_functions() WHERE NOT internal
      UNION ALL SELECT 'index', schema_name, index_name FROM duckdb_indexes()
      ORDER BY ALL`;
    dump['catalog objects'] = await hashOf(objects);
    dump['columns'] = await hashOf(`SELECT schema_name, table_name, column_index, column_name, data_type FROM duckdb_columns() WHERE NOT internal ORDER BY ALL`);
    for (const [schema, name] of (await conn.runAndReadAll(`SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal ORDER BY ALL`)).getRowsJS()) {
      dump[`${schema}.${name}`] = await hashOf(`SELECT * FROM "${schema}"."${name}" ORDER BY ALL`);
    }
  } finally {
    conn.disconnectSync();
    db.closeSync();
  }
  return { fileSha, dump, dirListing };
}

function listTree(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${p.slice(root.length)} ${statSync(p).size}`);
    }
  };
  walk(root);
  return out.sort();
}
