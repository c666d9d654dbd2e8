// The bundled synthetic dataset: deterministic, the documented shape, the canary present,
// free text that really does embed identifiers, and a cache that is generated once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  CANARY, DATASET_VERSION, ROW_COUNTS, demoCacheDir, demoDatabaseFile, demoDatabasePath,
} from '../../../src/warehouse/demo-dataset.ts';
import { RESTRICTED_ZIP3 } from '../../../src/warehouse/hipaa.ts';
import { tempDir } from './helpers.ts';

type Row = Record<string, unknown>;

/** Opens a generated file read-only and runs queries with plain JS results. */
async function reader(file: string) {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  return {
    rows: async (sql: string): Promise<Row[]> => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[],
    one: async (sql: string): Promise<Row> => ((await conn.runAndReadAll(sql)).getRowObjectsJS()[0] ?? {}) as Row,
    close: () => { conn.disconnectSync(); instance.closeSync(); },
  };
}

/** A digest of every row of every table in a fixed order: equal digests, equal data. */
async function canonicalDigest(file: string): Promise<string> {
  const db = await reader(file);
  try {
    const parts: string[] = [];
    for (const [table, key] of [['patients', 'patient_id'], ['encounters', 'encounter_id'], ['providers', 'provider_id']]) {
      const r = await db.one(`SELECT sha256(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY ${key})) AS h FROM ${table} t`);
      parts.push(`${table}:${String(r.h)}`);
    }
    return parts.join(' ');
  } finally {
    db.close();
  }
}

describe('demo dataset', () => {
  let dirA: { path: string; remove: () => Promise<void> };
  let dirB: { path: string; remove: () => Promise<void> };
  let fileA: string;
  let fileB: string;
  let progressA: string[];
  let db: Awaited<ReturnType<typeof reader>>;

  before(async () => {
    dirA = await tempDir('demo-a');
    dirB = await tempDir('demo-b');
    progressA = [];
    // Two concurrent callers in one process share one generation.
    const [a1, a2] = await Promise.all([
      demoDatabasePath({ cacheDir: dirA.path, onProgress: (m) => progressA.push(m) }),
      demoDatabasePath({ cacheDir: dirA.path, onProgress: (m) => progressA.push(m) }),
    ]);
    assert.equal(a1, a2);
    fileA = a1;
    // The second generation finds its directory through the environment.
    const saved = process.env.PHIGATE_CACHE_DIR;
    process.env.PHIGATE_CACHE_DIR = dirB.path;
    try { fileB = await demoDatabasePath(); } finally {
      if (saved === undefined) delete process.env.PHIGATE_CACHE_DIR; else process.env.PHIGATE_CACHE_DIR = saved;
    }
    db = await reader(fileA);
  });

  after(async () => {
    db?.close();
    await dirA?.remove();
    await dirB?.remove();
  });

  it('is a file named clinical.duckdb in a versioned folder, whose catalog is "clinical"', async () => {
    assert.equal(fileA, join(dirA.path, `demo-v${DATASET_VERSION}`, 'clinical.duckdb'));
    assert.equal(fileB, join(dirB.path, `demo-v${DATASET_VERSION}`, 'clinical.duckdb'));
    assert.equal((await db.one('SELECT current_database() AS d')).d, 'clinical');
    const tables = await db.rows("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY table_name");
    assert.deepEqual(tables, [
      { schema_name: 'main', table_name: 'encounters' },
      { schema_name: 'main', table_name: 'patients' },
      { schema_name: 'main', table_name: 'providers' },
    ]);
  });

  it('is deterministic: two generations hold identical rows', async () => {
    assert.equal(await canonicalDigest(fileA), await canonicalDigest(fileB));
  });

  it('generates once per cache and leaves no temporary files', async () => {
    assert.equal(progressA.filter((m) => m.startsWith('generating')).length, 1);
    const before = await stat(fileA);
    const progress: string[] = [];
    assert.equal(await demoDatabasePath({ cacheDir: dirA.path, onProgress: (m) => progress.push(m) }), fileA);
    assert.deepEqual(progress, []);
    assert.equal((await stat(fileA)).mtimeMs, before.mtimeMs);
    assert.deepEqual(await readdir(join(dirA.path, `demo-v${DATASET_VERSION}`)), ['clinical.duckdb']);
  });

  it('resolves the cache directory: option, PHIGATE_CACHE_DIR, XDG_CACHE_HOME, ~/.cache', () => {
    const saved = { p: process.env.PHIGATE_CACHE_DIR, x: process.env.XDG_CACHE_HOME };
    try {
      process.env.PHIGATE_CACHE_DIR = '/p';
      process.env.XDG_CACHE_HOME = '/x';
      assert.equal(demoCacheDir('/o'), '/o');
      assert.equal(demoCacheDir(), '/p');
      delete process.env.PHIGATE_CACHE_DIR;
      assert.equal(demoCacheDir(), '/x/phigate');
      process.env.XDG_CACHE_HOME = '';
      assert.equal(demoCacheDir(), join(homedir(), '.cache', 'phigate'));
      assert.ok(demoDatabaseFile('/o').includes(`v${DATASET_VERSION}`));
    } finally {
      for (const [k, v] of [['PHIGATE_CACHE_DIR', saved.p], ['XDG_CACHE_HOME', saved.x]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
    }
  });

  it('has the documented row counts and ids', async () => {
    for (const [table, count] of Object.entries(ROW_COUNTS)) {
      assert.equal((await db.one(`SELECT count(*) AS n FROM ${table}`)).n, BigInt(count), table);
    }
    assert.deepEqual(await db.one('SELECT min(patient_id) AS lo, max(patient_id) AS hi, count(DISTINCT patient_id) AS n FROM patients'),
      { lo: 1, hi: CANARY.patientId, n: BigInt(ROW_COUNTS.patients) });
    assert.deepEqual(await db.one('SELECT min(provider_id) AS lo, max(provider_id) AS hi FROM providers'), { lo: 1, hi: 200 });
    const orphans = await db.one(`SELECT count(*) AS n FROM encounters e
      WHERE e.patient_id NOT IN (SELECT patient_id FROM patients) OR e.provider_id NOT IN (SELECT provider_id FROM providers)`);
    assert.equal(orphans.n, 0n);
  });

  it('has the documented column types', async () => {
    const cols = await db.rows(`SELECT table_name || '.' || column_name AS c, data_type AS t FROM duckdb_columns()
      WHERE database_name = 'clinical' AND NOT internal ORDER BY table_name, column_index`);
    const types = Object.fromEntries(cols.map((r) => [r.c, r.t]));
    assert.deepEqual(types, {
      'encounters.encounter_id': 'INTEGER', 'encounters.patient_id': 'INTEGER', 'encounters.provider_id': 'INTEGER',
      'encounters.admit_date': 'DATE', 'encounters.discharge_date': 'DATE', 'encounters.encounter_type': 'VARCHAR',
      'encounters.diagnosis_code': 'VARCHAR', 'encounters.total_charge': 'DECIMAL(10,2)', 'encounters.notes': 'VARCHAR',
      'patients.patient_id': 'INTEGER', 'patients.mrn': 'VARCHAR', 'patients.ssn': 'VARCHAR', 'patients.first_name': 'VARCHAR',
      'patients.last_name': 'VARCHAR', 'patients.dob': 'DATE', 'patients.sex': 'VARCHAR', 'patients.zip': 'VARCHAR',
      'patients.city': 'VARCHAR', 'patients.state': 'VARCHAR', 'patients.phone': 'VARCHAR', 'patients.email': 'VARCHAR',
      'patients.address': 'VARCHAR', 'patients.notes': 'VARCHAR', 'patients.created_at': 'TIMESTAMP',
      'providers.provider_id': 'INTEGER', 'providers.npi': 'VARCHAR', 'providers.name': 'VARCHAR',
      'providers.specialty': 'VARCHAR', 'providers.email': 'VARCHAR', 'providers.phone': 'VARCHAR',
    });
  });

  it('holds well-formed identifiers', async () => {
    const bad = await db.one(`SELECT
      count(*) FILTER (WHERE NOT regexp_full_match(mrn, 'MRN-[0-9]{8}')) AS mrn,
      count(*) FILTER (WHERE NOT regexp_full_match(ssn, '[0-9]{3}-[0-9]{2}-[0-9]{4}')) AS ssn_format,
      count(*) FILTER (WHERE patient_id <> ${CANARY.patientId}
        AND (CAST(substr(ssn, 1, 3) AS INT) NOT BETWEEN 100 AND 899 OR substr(ssn, 1, 3) = '666')) AS ssn_area,
      count(*) FILTER (WHERE NOT regexp_full_match(phone, '[0-9]{3}-[0-9]{3}-[0-9]{4}')) AS phone,
      count(*) FILTER (WHERE NOT regexp_full_match(zip, '[0-9]{5}')) AS zip,
      count(*) FILTER (WHERE NOT regexp_full_match(state, '[A-Z]{2}')) AS state,
      count(*) FILTER (WHERE sex NOT IN ('F', 'M', 'X')) AS sex,
      count(*) FILTER (WHERE dob NOT BETWEEN DATE '1930-01-01' AND DATE '2015-12-31') AS dob,
      count(*) FILTER (WHERE NOT regexp_full_match(email, '[^@ ]+@[^@ ]+[.][a-z]+')) AS email,
      count(*) - count(DISTINCT mrn) AS dup_mrn, count(*) - count(DISTINCT ssn) AS dup_ssn
      FROM patients`);
    for (const [k, v] of Object.entries(bad)) assert.equal(v, 0n, k);
    const enc = await db.one(`SELECT
      count(*) FILTER (WHERE encounter_type NOT IN ('inpatient', 'outpatient', 'emergency', 'telehealth')) AS type,
      count(*) FILTER (WHERE NOT regexp_full_match(diagnosis_code, '[A-Z][0-9]{2}([.][0-9A-Z]{1,4})?')) AS dx,
      count(*) FILTER (WHERE discharge_date < admit_date) AS order_,
      count(*) FILTER (WHERE discharge_date IS NULL) AS open_
      FROM encounters`);
    assert.deepEqual([enc.type, enc.dx, enc.order_], [0n, 0n, 0n]);
    assert.ok((enc.open_ as bigint) > 0n, 'discharge_date is sometimes NULL');
    const prov = await db.one(`SELECT count(*) FILTER (WHERE NOT regexp_full_match(npi, '[0-9]{10}')) AS npi FROM providers`);
    assert.equal(prov.npi, 0n);
  });

  it('includes ZIPs in HIPAA-restricted 3-digit areas', async () => {
    const rows = await db.rows(`SELECT DISTINCT substr(zip, 1, 3) AS p FROM patients
      WHERE substr(zip, 1, 3) IN (${RESTRICTED_ZIP3.map((z) => `'${z}'`).join(', ')})`);
    assert.ok(rows.length >= 10, `only ${rows.length} restricted prefixes present`);
  });

  it('holds the canary patient with its encounters', async () => {
    const c = await db.one(`SELECT mrn, ssn, first_name, last_name, strftime(dob, '%Y-%m-%d') AS dob, zip, phone, email, notes
      FROM patients WHERE patient_id = ${CANARY.patientId}`);
    assert.deepEqual({ ...c, notes: undefined }, {
      mrn: CANARY.mrn, ssn: CANARY.ssn, first_name: CANARY.firstName, last_name: CANARY.lastName, dob: CANARY.dob,
      zip: CANARY.zip, phone: CANARY.phone, email: CANARY.email, notes: undefined,
    });
    assert.ok(String(c.notes).includes(CANARY.noteFragment));
    assert.ok(CANARY.noteFragment.includes(CANARY.ssn) && CANARY.noteFragment.includes(CANARY.phone));
    // Its values belong to it alone, so finding one anywhere points at this row.
    const elsewhere = await db.one(`SELECT count(*) AS n FROM patients WHERE patient_id <> ${CANARY.patientId}
      AND (mrn = '${CANARY.mrn}' OR ssn = '${CANARY.ssn}' OR phone = '${CANARY.phone}' OR email = '${CANARY.email}')`);
    assert.equal(elsewhere.n, 0n);
    const enc = await db.rows(`SELECT notes FROM encounters WHERE patient_id = ${CANARY.patientId}`);
    assert.ok(enc.length >= 2);
    assert.ok(enc.some((r) => String(r.notes).includes(CANARY.phone)));
    assert.ok(enc.some((r) => String(r.notes).includes(CANARY.mrn)));
  });

  it("embeds patients' own identifiers in about a third of the notes", async () => {
    const r = await db.one(`SELECT avg(CASE WHEN contains(notes, ssn) OR contains(notes, phone) OR contains(notes, email)
      OR contains(notes, mrn) THEN 1 ELSE 0 END) AS share FROM patients`);
    const share = Number(r.share);
    assert.ok(share > 0.28 && share < 0.39, `share ${share}`);
    for (const id of ['ssn', 'phone', 'email', 'mrn']) {
      const n = await db.one(`SELECT count(*) AS n FROM patients WHERE contains(notes, ${id})`);
      assert.ok((n.n as bigint) > 100n, id);
    }
    const enc = await db.one(`SELECT count(*) AS n FROM encounters e JOIN patients p USING (patient_id)
      WHERE contains(e.notes, p.phone) OR contains(e.notes, p.mrn)`);
    assert.ok((enc.n as bigint) > 1000n);
  });
});
