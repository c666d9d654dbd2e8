import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StaticCatalog, isTextual, snowflakeTypeOf } from '../../../src/warehouse/catalog.ts';
import type { CatalogTable } from '../../../src/warehouse/types.ts';

const table = (database: string, schema: string, name: string): CatalogTable =>
  ({ database, schema, name, columns: [{ name: 'id', type: 'fixed', textual: false }] });

describe('StaticCatalog', () => {
  const patients = table('clinical', 'main', 'patients');
  const audit = table('clinical', 'Audit', 'Events');
  const other = table('warehouse2', 'main', 'patients');
  const cat = new StaticCatalog([patients, audit, other], { database: 'clinical', schema: 'main' });

  it('finds unqualified names in the default database and schema, in any case', () => {
    assert.equal(cat.find({ table: 'patients' }), patients);
    assert.equal(cat.find({ table: 'PATIENTS' }), patients);
    assert.equal(cat.find({ table: 'Patients' }), patients);
  });

  it('resolves qualified names case-insensitively', () => {
    assert.equal(cat.find({ schema: 'AUDIT', table: 'events' }), audit);
    assert.equal(cat.find({ database: 'CLINICAL', schema: 'audit', table: 'EVENTS' }), audit);
    assert.equal(cat.find({ database: 'WAREHOUSE2', table: 'patients' }), other);
  });

  it('does not find what is not there', () => {
    assert.equal(cat.find({ table: 'events' }), undefined); // wrong default schema
    assert.equal(cat.find({ schema: 'other', table: 'patients' }), undefined);
    assert.equal(cat.find({ table: 'patient' }), undefined);
    assert.equal(cat.find({ database: 'clinical.main', table: 'patients' }), undefined);
  });

  it('exposes defaults and a copy of its tables', () => {
    assert.equal(cat.database, 'clinical');
    assert.equal(cat.schema, 'main');
    const list = cat.tables();
    assert.equal(list.length, 3);
    list.pop();
    assert.equal(cat.tables().length, 3);
    const implicit = new StaticCatalog([patients]);
    assert.equal(implicit.database, 'clinical');
    assert.equal(implicit.schema, 'main');
  });

  it('refuses two tables that only differ in case', () => {
    assert.throws(() => new StaticCatalog([patients, table('clinical', 'main', 'PATIENTS')]), /differ only in case/);
  });
});

describe('snowflakeTypeOf', () => {
  const cases: [string, string][] = [
    ['INTEGER', 'fixed'], ['BIGINT', 'fixed'], ['HUGEINT', 'fixed'], ['UTINYINT', 'fixed'], ['DECIMAL(10,2)', 'fixed'],
    ['DECIMAL(38,0)', 'fixed'], ['FLOAT', 'real'], ['DOUBLE', 'real'], ['VARCHAR', 'text'], ["ENUM('a', 'b')", 'text'],
    ['UUID', 'text'], ['DATE', 'date'], ['TIME', 'time'], ['TIME WITH TIME ZONE', 'time'], ['TIMESTAMP', 'timestamp_ntz'],
    ['TIMESTAMP_NS', 'timestamp_ntz'], ['TIMESTAMP WITH TIME ZONE', 'timestamp_tz'], ['TIMESTAMPTZ', 'timestamp_tz'],
    ['BOOLEAN', 'boolean'], ['BLOB', 'binary'], ['JSON', 'variant'], ['VARCHAR[]', 'variant'], ['INTEGER[3]', 'variant'],
    ['STRUCT(a INTEGER, b VARCHAR)', 'variant'], ['MAP(VARCHAR, INTEGER)', 'variant'], ['UNION(a INTEGER)', 'variant'],
    ['INTERVAL', 'text'], ['SOMETHING_NEW', 'text'],
  ];
  for (const [duck, sf] of cases) {
    it(`${duck} -> ${sf}`, () => assert.equal(snowflakeTypeOf(duck), sf));
  }

  it('treats only text as textual', () => {
    assert.equal(isTextual('text'), true);
    for (const t of ['fixed', 'real', 'date', 'variant', 'binary'] as const) assert.equal(isTextual(t), false);
  });
});
