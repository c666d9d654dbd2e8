// The lock-down of the embedded engine, tested on DuckDB itself (raw statements on the locked
// instance) and through the warehouse: no files, no extensions, no configuration changes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { openDuckDBWarehouse, openLockedInstance } from '../../../src/warehouse/duckdb.ts';
import { drain, makeDuckDBFile, tempDir } from './helpers.ts';

describe('DuckDB lock-down', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  let readOnly: { instance: DuckDBInstance; conn: DuckDBConnection };
  let writable: { instance: DuckDBInstance; conn: DuckDBConnection };

  before(async () => {
    dir = await tempDir('lockdown');
    file = await makeDuckDBFile(dir.path, 'locked.duckdb', "CREATE TABLE t AS SELECT 1 AS v");
    // A second file for the writable instance: two instances cannot share a file read-write.
    const file2 = await makeDuckDBFile(dir.path, 'locked-rw.duckdb', "CREATE TABLE t AS SELECT 1 AS v");
    const ro = await openLockedInstance(file, true);
    readOnly = { instance: ro, conn: await ro.connect() };
    const rw = await openLockedInstance(file2, false);
    writable = { instance: rw, conn: await rw.connect() };
  });

  after(async () => {
    for (const x of [readOnly, writable]) { x?.conn.disconnectSync(); x?.instance.closeSync(); }
    await dir?.remove();
  });

  const outside = () => join(dir.path, 'outside.csv');

  /** Statements that must fail on both instances, with what DuckDB says about each. */
  const refused: [string, () => string, RegExp][] = [
    ['read_csv of a file', () => "SELECT * FROM read_csv('/etc/passwd')", /Permission Error|disabled by configuration/],
    ['a file path as a table', () => "SELECT * FROM '/etc/passwd'", /Catalog Error|does not exist|Permission/],
    ['read_text', () => "SELECT * FROM read_text('/etc/hostname')", /Permission Error|disabled by configuration/],
    ['glob', () => "SELECT * FROM glob('/etc/*')", /Permission Error|disabled by configuration/],
    ['COPY TO', () => `COPY t TO '${outside()}'`, /Permission Error|disabled by configuration/],
    ['COPY (query) TO', () => `COPY (SELECT 1) TO '${outside()}'`, /Permission Error|disabled by configuration/],
    ['EXPORT DATABASE', () => `EXPORT DATABASE '${join(dir.path, 'export')}'`, /Permission Error|disabled by configuration/],
    ['ATTACH a file', () => `ATTACH '${join(dir.path, 'other.duckdb')}' AS other`, /Permission Error|disabled by configuration/],
    ['INSTALL', () => 'INSTALL httpfs', /Permission Error|disabled by configuration/],
    ['LOAD', () => 'LOAD httpfs', /Permission Error|disabled/],
    ['SET a locked option', () => 'SET enable_external_access = true', /configuration has been locked/],
    ['SET threads', () => 'SET threads = 1', /configuration has been locked/],
    ['SET autoload', () => 'SET autoload_known_extensions = true', /configuration has been locked/],
    ['RESET lock_configuration', () => 'RESET lock_configuration', /configuration has been locked/],
    ['SET TimeZone', () => "SET TimeZone = 'America/New_York'", /configuration has been locked/],
  ];

  for (const [what, sql, error] of refused) {
    it(`refuses ${what}`, async () => {
      for (const { conn } of [readOnly, writable]) {
        await assert.rejects(conn.run(sql()), error);
      }
      assert.equal(existsSync(outside()), false);
    });
  }

  it('reports every lock-down setting as applied', async () => {
    const reader = await readOnly.conn.runAndReadAll(`SELECT name, value FROM duckdb_settings() WHERE name IN
      ('enable_external_access', 'autoinstall_known_extensions', 'autoload_known_extensions',
       'allow_community_extensions', 'lock_configuration', 'access_mode', 'TimeZone') ORDER BY name`);
    assert.deepEqual(Object.fromEntries(reader.getRowsJS().map(([n, v]) => [n, String(v).toLowerCase()])), {
      access_mode: 'read_only', allow_community_extensions: 'false', autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false', enable_external_access: 'false', lock_configuration: 'true', TimeZone: 'utc',
    });
  });

  it('read-only refuses writes; writable accepts them inside the database', async () => {
    await assert.rejects(readOnly.conn.run('CREATE TABLE u (a INT)'), /read-only/);
    await assert.rejects(readOnly.conn.run('INSERT INTO t VALUES (2)'), /read-only/);
    await writable.conn.run('INSERT INTO t VALUES (2)');
    const r = await writable.conn.runAndReadAll('SELECT count(*) FROM t');
    assert.equal(r.getRowsJS()[0]?.[0], 2n);
  });

  it('the warehouse opens with the same lock-down and refuses file access in SELECTs', async () => {
    const wh = await openDuckDBWarehouse({ path: file }, { readOnly: true });
    try {
      const opts = { maxRows: 10, timeoutMs: 10_000 };
      await assert.rejects(wh.execute("SELECT * FROM read_csv('/etc/passwd')", opts), /Permission Error|disabled by configuration/);
      await assert.rejects(wh.execute("SELECT * FROM '/etc/passwd'", opts), /Catalog Error|does not exist/);
      // Refused at bind time by DuckDB, or else by the statement-type check.
      await assert.rejects(wh.execute(`COPY t TO '${outside()}'`, opts), /Permission Error|does not run/);
      const { rows } = await drain(await wh.execute("SELECT current_setting('enable_external_access')::VARCHAR", opts));
      assert.deepEqual(rows, [['false']]);
    } finally {
      await wh.close();
    }
  });

  it('refuses to open a database file that does not exist', async () => {
    await assert.rejects(openDuckDBWarehouse({ path: join(dir.path, 'missing.duckdb') }, { readOnly: false }), /not found/);
    assert.equal(existsSync(join(dir.path, 'missing.duckdb')), false);
  });
});
