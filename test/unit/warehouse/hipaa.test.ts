// zip3 follows HHS's Safe Harbor list of restricted three-digit ZIP areas (2000 Census).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { RESTRICTED_ZIP3 } from '../../../src/warehouse/hipaa.ts';
import { duckdbMaskExpression } from '../../../src/warehouse/duckdb-sql.ts';

test('the restricted list is the 17 prefixes HHS publishes', () => {
  assert.deepEqual([...RESTRICTED_ZIP3].sort(), ['036', '059', '063', '102', '203', '556', '692', '790', '821', '823', '830', '831', '878', '879', '884', '890', '893']);
});

test('zip3 in DuckDB: restricted areas become 00000, others keep three digits', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const expr = duckdbMaskExpression({ strategy: 'zip3' }, 'z', { name: 'z', type: 'text', textual: true });
  const rows = (await c.runAndReadAll(`SELECT ${expr} FROM (VALUES ('79012'), ('83001'), ('89011'), ('06320'), ('20500'), ('36901'), ('94110')) t(z)`)).getRows().map((r) => r[0]);
  assert.deepEqual(rows, ['00000', '00000', '00000', '00000', '20500', '36900', '94100']);
  c.closeSync();
  db.closeSync();
});
