// Every mask strategy, run inside DuckDB on sample values: the values it produces and the
// type it keeps.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openDuckDBWarehouse } from '../../../src/warehouse/duckdb.ts';
import { hashPrefixes, quoteIdent, sqlString } from '../../../src/warehouse/duckdb-sql.ts';
import type { CatalogColumn, CatalogTable, MaskPlan, Warehouse } from '../../../src/warehouse/types.ts';
import { drain, makeDuckDBFile, tempDir } from './helpers.ts';

const SAMPLES = `
CREATE TABLE samples (
  id INTEGER, txt VARCHAR, zip VARCHAR, zip_num INTEGER, email VARCHAR, dob DATE, ts TIMESTAMP,
  amount DECIMAL(10,2), flag BOOLEAN, notes VARCHAR, "we""ird" VARCHAR, tstz TIMESTAMPTZ
);
INSERT INTO samples VALUES
  (1, '123-45-6789', '02139', 2139, 'jane.doe@example.org', DATE '1985-06-15', TIMESTAMP '2021-03-04 05:06:07', 12.50, true,
   'Pt called from 415-555-0123 re refill; SSN 123-45-6789, MRN-12345678, mail jane.doe@example.org', 'x',
   TIMESTAMPTZ '2021-01-01 02:00:00+00'),
  (2, 'ab', '03612', 3612, 'no-at-sign', DATE '2001-12-31', TIMESTAMP '1999-12-31 23:59:59', -3.25, false,
   'Nothing to see here.', 'y', TIMESTAMPTZ '2020-12-31 23:00:00-05'),
  (3, 'O''Brien', ' 10001-1234', 89301, 'a@b@c.org', DATE '1930-01-01', TIMESTAMP '1930-01-01 00:00:00', 0, NULL,
   'Callback 212-555-0199.', 'z', NULL),
  (4, 'N/A', 'N/A', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE visits (pid INTEGER);
INSERT INTO visits VALUES (1), (1), (2), (3), (99);
CREATE TABLE people (pid BIGINT);
INSERT INTO people VALUES (1), (2), (3), (4);
`;

describe('DuckDB mask expressions', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let wh: Warehouse;
  let samples: CatalogTable;

  before(async () => {
    dir = await tempDir('masks');
    const file = await makeDuckDBFile(dir.path, 'masks.duckdb', SAMPLES);
    wh = await openDuckDBWarehouse({ path: file }, { readOnly: true });
    samples = (await wh.catalog()).find({ table: 'SAMPLES' })!;
  });

  after(async () => {
    await wh?.close();
    await dir?.remove();
  });

  const column = (name: string): CatalogColumn => {
    const c = samples.columns.find((x) => x.name === name);
    assert.ok(c, name);
    return c;
  };

  /** The mask of `name` for every sample row (by id), with DuckDB's typeof() of the result. */
  async function masked(plan: MaskPlan, name: string, col = column(name)): Promise<{ values: (string | null)[]; type: string }> {
    const expr = wh.maskExpression(plan, quoteIdent(name), col);
    const rs = await wh.execute(`SELECT ${expr} AS v, typeof(${expr}) AS t FROM samples ORDER BY id`, { maxRows: 100, timeoutMs: 10_000 });
    const { rows } = await drain(rs);
    return { values: rows.map((r) => r[0] ?? null), type: String(rows[0]?.[1]) };
  }

  it('redact: a constant for text, a typed NULL otherwise', async () => {
    assert.deepEqual(await masked({ strategy: 'redact' }, 'txt'),
      { values: Array(5).fill('[REDACTED]'), type: 'VARCHAR' });
    assert.deepEqual(await masked({ strategy: 'redact' }, 'dob'), { values: Array(5).fill(null), type: 'DATE' });
    assert.deepEqual(await masked({ strategy: 'redact' }, 'amount'), { values: Array(5).fill(null), type: 'DECIMAL(10,2)' });
  });

  it("null: NULL of the column's exact type, or a generic one for a column the catalog did not make", async () => {
    assert.deepEqual(await masked({ strategy: 'null' }, 'amount'), { values: Array(5).fill(null), type: 'DECIMAL(10,2)' });
    assert.deepEqual(await masked({ strategy: 'null' }, 'ts'), { values: Array(5).fill(null), type: 'TIMESTAMP' });
    assert.equal((await masked({ strategy: 'null' }, 'zip_num', { ...column('zip_num') })).type, 'DECIMAL(38,0)');
  });

  it('partial: keeps the last characters, stars the rest at the same length', async () => {
    assert.deepEqual((await masked({ strategy: 'partial' }, 'txt')).values,
      ['*******6789', '**', '***rien', '***', null]);
    assert.deepEqual((await masked({ strategy: 'partial', keep: 2 }, 'zip')).values, ['***39', '***12', '*********34', '*/A', null]);
    assert.deepEqual((await masked({ strategy: 'partial', keep: 0 }, 'txt')).values, ['***********', '**', '*******', '***', null]);
    // Non-text columns are masked in their text form.
    assert.deepEqual(await masked({ strategy: 'partial', keep: 1 }, 'zip_num'),
      { values: ['***9', '***2', '****1', null, null], type: 'VARCHAR' });
    assert.throws(() => wh.maskExpression({ strategy: 'partial', keep: -1 }, '"txt"', column('txt')), /keep/);
    assert.throws(() => wh.maskExpression({ strategy: 'partial', keep: 1.5 }, '"txt"', column('txt')), /keep/);
  });

  it('hash: keyed, deterministic, NULL-preserving, and never the bare digest', async () => {
    const a1 = await masked({ strategy: 'hash', hashKey: 'key-one' }, 'txt');
    const a2 = await masked({ strategy: 'hash', hashKey: 'key-one' }, 'txt');
    const b = await masked({ strategy: 'hash', hashKey: 'key-two' }, 'txt');
    assert.equal(a1.type, 'VARCHAR');
    assert.deepEqual(a1.values, a2.values);
    assert.equal(a1.values[4], null);
    for (let i = 0; i < 4; i++) {
      assert.match(String(a1.values[i]), /^[0-9a-f]{64}$/);
      assert.notEqual(a1.values[i], b.values[i]);
    }
    const bare = createHash('sha256').update('123-45-6789').digest('hex');
    assert.notEqual(a1.values[0], bare);
    // The construction is sha256(outer || sha256(inner || value)) with key-derived prefixes.
    const { inner, outer } = hashPrefixes('key-one');
    const h = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.equal(a1.values[0], h(outer + h(inner + '123-45-6789')));
  });

  it('hash: the key never appears in the SQL, and a key with quotes is harmless', async () => {
    const key = "k'ey\\\"; DROP TABLE samples; --";
    const expr = wh.maskExpression({ strategy: 'hash', hashKey: key }, '"txt"', column('txt'));
    assert.ok(!expr.includes(key) && !expr.includes('DROP'));
    const { values } = await masked({ strategy: 'hash', hashKey: key }, 'txt');
    assert.match(String(values[0]), /^[0-9a-f]{64}$/);
    assert.throws(() => wh.maskExpression({ strategy: 'hash' }, '"txt"', column('txt')), /key/);
    assert.throws(() => wh.maskExpression({ strategy: 'hash', hashKey: '' }, '"txt"', column('txt')), /key/);
  });

  it('hash: the same key makes hashed identifiers joinable across tables and integer types', async () => {
    const cat = await wh.catalog();
    const visits = cat.find({ table: 'visits' })!, people = cat.find({ table: 'people' })!;
    const plan: MaskPlan = { strategy: 'hash', hashKey: 'join-key' };
    const hv = wh.maskExpression(plan, '"pid"', visits.columns[0]!);
    const hp = wh.maskExpression(plan, '"pid"', people.columns[0]!);
    const sql = `SELECT count(*) FROM (SELECT ${hv} AS pid FROM visits) v JOIN (SELECT ${hp} AS pid FROM people) p USING (pid)`;
    const { rows } = await drain(await wh.execute(sql, { maxRows: 1, timeoutMs: 10_000 }));
    assert.deepEqual(rows, [['4']]);
  });

  it('year: truncates dates and timestamps, keeping their type; NULL for text', async () => {
    const d = await masked({ strategy: 'year' }, 'dob');
    assert.equal(d.type, 'DATE');
    const days = (iso: string) => String(Date.parse(`${iso}T00:00:00Z`) / 86_400_000);
    assert.deepEqual(d.values, [days('1985-01-01'), days('2001-01-01'), days('1930-01-01'), null, null]);
    const t = await masked({ strategy: 'year' }, 'ts');
    assert.equal(t.type, 'TIMESTAMP');
    assert.equal(t.values[0], `${Date.UTC(2021, 0, 1) / 1000}.000000000`);
    // TIMESTAMPTZ truncates the UTC wall clock: 2020-12-31 23:00-05 is 2021-01-01 04:00 UTC.
    const tz = await masked({ strategy: 'year' }, 'tstz');
    assert.equal(tz.type, 'TIMESTAMP WITH TIME ZONE');
    const y2021 = `${Date.UTC(2021, 0, 1) / 1000}.000000000 1440`;
    assert.deepEqual(tz.values, [y2021, y2021, null, null, null]);
    assert.deepEqual(await masked({ strategy: 'year' }, 'txt'), { values: Array(5).fill(null), type: 'VARCHAR' });
  });

  it('zip3: three digits and 00, 00000 for restricted prefixes and non-ZIPs', async () => {
    assert.deepEqual((await masked({ strategy: 'zip3' }, 'zip')).values, ['02100', '00000', '10000', '00000', null]);
    assert.deepEqual((await masked({ strategy: 'zip3' }, 'zip_num')).values, ['02100', '00000', '00000', null, null]);
  });

  it('email_domain: *@ and the domain, * when there is no domain', async () => {
    assert.deepEqual(await masked({ strategy: 'email_domain' }, 'email'),
      { values: ['*@example.org', '*', '*@c.org', null, null], type: 'VARCHAR' });
    assert.deepEqual((await masked({ strategy: 'email_domain' }, 'dob')).values, Array(5).fill(null));
  });

  it('scrub: replaces detected values in free text, only for the detectors asked for', async () => {
    const all = await masked({ strategy: 'scrub', detectors: ['ssn', 'phone', 'email', 'mrn'] }, 'notes');
    assert.equal(all.type, 'VARCHAR');
    const first = String(all.values[0]);
    for (const leaked of ['415-555-0123', '123-45-6789', '12345678', 'jane.doe@example.org']) assert.ok(!first.includes(leaked), first);
    for (const token of ['[PHONE]', '[SSN]', '[MRN]', '[EMAIL]']) assert.ok(first.includes(token), first);
    assert.equal(all.values[1], 'Nothing to see here.');
    assert.equal(all.values[4], null);
    const phoneOnly = await masked({ strategy: 'scrub', detectors: ['phone'] }, 'notes');
    assert.ok(String(phoneOnly.values[0]).includes('jane.doe@example.org'));
    assert.ok(!String(phoneOnly.values[0]).includes('415-555-0123'));
    assert.equal(wh.maskExpression({ strategy: 'scrub', detectors: [] }, '"notes"', column('notes')), '"notes"');
    assert.throws(() => wh.maskExpression({ strategy: 'scrub', detectors: ['nope' as never] }, '"notes"', column('notes')), /unknown detector/);
  });

  it('quotes identifiers and string literals', async () => {
    assert.equal(quoteIdent('we"ird'), '"we""ird"');
    assert.equal(sqlString("O'Brien"), "'O''Brien'");
    assert.equal(sqlString('back\\slash'), "'back\\slash'");
    assert.throws(() => sqlString('a\0b'), /NUL/);
    assert.throws(() => quoteIdent('a\0b'), /NUL/);
    assert.equal(wh.quoteIdent('we"ird'), '"we""ird"');
    const sql = `SELECT ${wh.quoteIdent('we"ird')}, txt = ${sqlString("O'Brien")} FROM samples WHERE id = 3`;
    assert.deepEqual((await drain(await wh.execute(sql, { maxRows: 1, timeoutMs: 10_000 }))).rows, [['z', 'true']]);
  });
});
