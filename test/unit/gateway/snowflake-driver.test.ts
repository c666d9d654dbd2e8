// Pieces of the Snowflake driver-protocol front end that need no server: result spooling into
// inline rows and chunk files, rowtype metadata, session-token headers, and the
// INFORMATION_SCHEMA.COLUMNS recogniser.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_BYTES, FIRST_CHUNK_BYTES, SpoolSink, driverRowType, parseCatalogQuery, snowflakeToken } from '../../../src/gateway/driver.ts';
import type { ResultColumn } from '../../../src/warehouse/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'phigate-spool-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cols: ResultColumn[] = [
  { name: 'ID', type: 'fixed', textual: false, nullable: false },
  { name: 'AMOUNT', type: 'fixed', textual: false, nullable: true },
  { name: 'OK', type: 'boolean', textual: false, nullable: true },
  { name: 'NOTE', type: 'text', textual: true, nullable: true },
];

describe('SpoolSink', () => {
  it('keeps a small result inline, re-encodes booleans, infers the scale of fixed columns', async () => {
    const sink = new SpoolSink(() => dir);
    sink.start(cols);
    const rows = [['1', '12.50', 'true', 'a'], ['2', '3.125', 'false', null], ['3', null, null, 'c']];
    const copy = rows.map((r) => r.slice());
    await sink.rows(rows);
    sink.end({ rows: 3, complete: true });
    await sink.finish();
    assert.deepEqual(rows, copy, 'the pipeline\'s rows (kept for the audit record) are not modified');
    assert.equal(sink.chunks.length, 0);
    assert.deepEqual(sink.first.map((t) => JSON.parse(t)), [['1', '12.50', '1', 'a'], ['2', '3.125', '0', null], ['3', null, null, 'c']]);
    const rt = sink.rowtype();
    assert.deepEqual(rt.map((c) => [c.type, c.precision, c.scale]), [['fixed', 38, 0], ['fixed', 38, 3], ['boolean', null, null], ['text', null, null]]);
  });

  it('spools a large result into bounded chunk files, in order, with exact row counts', async () => {
    const sink = new SpoolSink(() => dir);
    sink.start(cols);
    const note = 'x'.repeat(200);
    const n = 40_000;
    for (let i = 0; i < n; i += 1000) {
      await sink.rows(Array.from({ length: 1000 }, (_, j) => [String(i + j), '1.5', 'true', note]));
    }
    sink.end({ rows: n, complete: true });
    await sink.finish();
    assert.ok(sink.firstBytes <= FIRST_CHUNK_BYTES);
    assert.ok(sink.chunks.length >= 2, `${sink.chunks.length} chunk files`);
    let next = sink.first.length;
    for (const c of sink.chunks) {
      const text = readFileSync(c.path, 'utf8');
      assert.equal(Buffer.byteLength(text), c.bytes);
      assert.ok(c.bytes <= CHUNK_BYTES + 1024);
      const rows = JSON.parse(`[${text}]`);
      assert.equal(rows.length, c.rowCount);
      assert.equal(rows[0][0], String(next));
      next += rows.length;
    }
    assert.equal(next, n);
    assert.equal(sink.total, n);
    await sink.discard();
    assert.ok(sink.chunks.every((c) => !existsSync(c.path)), 'discard deletes the files');
  });
});

describe('wire helpers', () => {
  it('rowtype carries what the drivers convert with', () => {
    assert.deepEqual(driverRowType({ name: 'T', type: 'timestamp_ntz', textual: false, nullable: true }, 0).scale, 9);
    assert.deepEqual(driverRowType({ name: 'N', type: 'fixed', textual: false, nullable: true, precision: 10, scale: 2 }, 0).scale, 2);
    assert.equal(driverRowType({ name: 'S', type: 'text', textual: true, nullable: true }, 0).length, 16_777_216);
  });

  it('reads the session token from Snowflake\'s Authorization header only', () => {
    assert.equal(snowflakeToken('Snowflake Token="abc-123"'), 'abc-123');
    assert.equal(snowflakeToken('Bearer abc'), null);
    assert.equal(snowflakeToken(undefined), null);
  });

  it('recognises only plain reads of INFORMATION_SCHEMA.COLUMNS', () => {
    assert.deepEqual(parseCatalogQuery(`SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, TABLE_CATALOG
       FROM CLINICAL.INFORMATION_SCHEMA.COLUMNS
       WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA'
       ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`), ['TABLE_SCHEMA', 'TABLE_NAME', 'COLUMN_NAME', 'DATA_TYPE', 'NUMERIC_PRECISION', 'NUMERIC_SCALE', 'TABLE_CATALOG']);
    assert.deepEqual(parseCatalogQuery('select table_name, column_name from information_schema.columns'), ['TABLE_NAME', 'COLUMN_NAME']);
    for (const sql of [
      'SELECT * FROM information_schema.columns',
      "SELECT table_name FROM information_schema.columns WHERE table_name = 'PATIENTS'",
      'SELECT table_name FROM information_schema.columns, patients',
      'SELECT table_name, ssn FROM information_schema.columns',
      'SELECT table_name FROM information_schema.columns; DROP TABLE patients',
      'SELECT table_name FROM information_schema.tables',
    ]) assert.equal(parseCatalogQuery(sql), null, sql);
  });
});
