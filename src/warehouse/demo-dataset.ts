// The bundled synthetic clinical dataset behind `duckdb.path: ":demo:"`.
//
// Every value is fictional and comes from a seeded PRNG, so two machines generate the same
// rows and tests can rely on them. The file is generated on first use into a cache directory
// and reused; DATASET_VERSION is part of its path, so changing the schema or the generator
// only needs a version bump to regenerate.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DuckDBDataChunk, DuckDBDateValue, DuckDBDecimalValue, DuckDBInstance, DuckDBTimestampValue, DuckDBVector,
  type DuckDBConnection, type DuckDBValue,
} from '@duckdb/node-api';

/** Bump on any change to the schema or to what the generator produces. */
export const DATASET_VERSION = 1;

const SEED = 0x5eed_7a11;
const ORDINARY_PATIENTS = 10_000;

export const ROW_COUNTS = { patients: ORDINARY_PATIENTS + 1, encounters: 50_000, providers: 200 } as const;

/**
 * One patient whose values are known in advance: any of them appearing in a masked result,
 * an error or an audit record is a leak. Otherwise an ordinary row (with two encounters).
 */
export const CANARY = {
  patientId: ORDINARY_PATIENTS + 1,
  mrn: 'MRN-99999999',
  ssn: '078-05-1120',
  firstName: 'Zebulon',
  lastName: 'Canarywood',
  dob: '1961-07-04',
  zip: '02139',
  phone: '617-555-0142',
  email: 'zebulon.canarywood@example.org',
  noteFragment: 'Pt called from 617-555-0142 to confirm SSN 078-05-1120 before records release.',
} as const;

// ---------------------------------------------------------------------------------------------
// Where the file lives

export interface DemoDatasetOptions { cacheDir?: string; onProgress?: (msg: string) => void }

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

export function demoCacheDir(cacheDir?: string): string {
  const xdg = nonEmpty(process.env.XDG_CACHE_HOME);
  return nonEmpty(cacheDir) ?? nonEmpty(process.env.PHIGATE_CACHE_DIR)
    ?? (xdg ? join(xdg, 'phigate') : join(homedir(), '.cache', 'phigate'));
}

/** The file name stem becomes DuckDB's catalog name, so the file must be `clinical.duckdb`. */
export function demoDatabaseFile(cacheDir?: string): string {
  return join(demoCacheDir(cacheDir), `demo-v${DATASET_VERSION}`, 'clinical.duckdb');
}

// One generation per file per process; other processes are handled by the atomic rename.
const inflight = new Map<string, Promise<string>>();

/** Path of the demo database, generating it first if this cache does not hold it yet. */
export async function demoDatabasePath(opts: DemoDatasetOptions = {}): Promise<string> {
  const file = demoDatabaseFile(opts.cacheDir);
  if (existsSync(file)) return file;
  let p = inflight.get(file);
  if (!p) {
    p = generateInto(file, opts.onProgress).finally(() => inflight.delete(file));
    inflight.set(file, p);
  }
  return p;
}

async function generateInto(file: string, onProgress?: (msg: string) => void): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  // Another process may have finished while we were getting here.
  if (existsSync(file)) return file;
  onProgress?.(`generating the synthetic demo dataset (v${DATASET_VERSION}) in ${dirname(file)}`);
  const started = Date.now();
  // Same directory as the target so the rename is atomic; unique so racing processes do not
  // write into each other's file. The loser of a race simply replaces an identical file.
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await writeDemoDatabase(tmp);
    try {
      await rename(tmp, file);
    } catch (e) {
      // Where a rename cannot replace a file another process holds open, theirs will do.
      if (!existsSync(file)) throw e;
    }
  } finally {
    await rm(tmp, { force: true });
    await rm(`${tmp}.wal`, { force: true });
  }
  onProgress?.(`demo dataset ready (${Date.now() - started} ms)`);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Generation

const DDL = `
CREATE TABLE providers (
  provider_id INTEGER PRIMARY KEY,
  npi VARCHAR NOT NULL,
  name VARCHAR NOT NULL,
  specialty VARCHAR NOT NULL,
  email VARCHAR,
  phone VARCHAR
);
CREATE TABLE patients (
  patient_id INTEGER PRIMARY KEY,
  mrn VARCHAR NOT NULL,
  ssn VARCHAR,
  first_name VARCHAR NOT NULL,
  last_name VARCHAR NOT NULL,
  dob DATE NOT NULL,
  sex VARCHAR NOT NULL,
  zip VARCHAR,
  city VARCHAR,
  state VARCHAR,
  phone VARCHAR,
  email VARCHAR,
  address VARCHAR,
  notes VARCHAR,
  created_at TIMESTAMP NOT NULL
);
CREATE TABLE encounters (
  encounter_id INTEGER PRIMARY KEY,
  patient_id INTEGER NOT NULL,
  provider_id INTEGER NOT NULL,
  admit_date DATE NOT NULL,
  discharge_date DATE,
  encounter_type VARCHAR NOT NULL,
  diagnosis_code VARCHAR NOT NULL,
  total_charge DECIMAL(10,2) NOT NULL,
  notes VARCHAR
);`;

/** Writes a fresh database file at `file` (which must not exist). */
export async function writeDemoDatabase(file: string): Promise<void> {
  const instance = await DuckDBInstance.create(file);
  try {
    const conn = await instance.connect();
    try {
      await conn.run(DDL);
      const gen = new DatasetGenerator();
      await appendAll(conn, 'providers', gen.providers());
      await appendAll(conn, 'patients', gen.patients());
      await appendAll(conn, 'encounters', gen.encounters());
      // Fold the WAL into the file so that the single file we rename is complete.
      await conn.run('CHECKPOINT');
    } finally {
      conn.disconnectSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** A cell for the appender: strings, integers, dates (days), timestamps (µs), cents, null. */
type Cell =
  | { k: 'int'; v: number } | { k: 'str'; v: string } | { k: 'date'; v: number }
  | { k: 'ts'; v: number } | { k: 'cents'; v: number } | null;

/**
 * Appends rows a data chunk at a time. Appending value by value costs a native call and a
 * DuckDB Value per cell (seconds for this dataset); filling vectors and appending whole
 * chunks is several times faster.
 */
async function appendAll(conn: DuckDBConnection, table: string, rows: Iterable<Cell[]>): Promise<void> {
  const app = await conn.createAppender(table, 'main');
  try {
    const types = Array.from({ length: app.columnCount }, (_, i) => app.columnType(i));
    const size = DuckDBVector.standardSize();
    let columns: DuckDBValue[][] = types.map(() => []);
    const flush = () => {
      const n = columns[0]?.length ?? 0;
      if (n === 0) return;
      const chunk = DuckDBDataChunk.create(types, n);
      columns.forEach((values, i) => chunk.setColumnValues(i, values));
      app.appendDataChunk(chunk);
      columns = types.map(() => []);
    };
    for (const row of rows) {
      row.forEach((cell, i) => (columns[i] as DuckDBValue[]).push(toValue(cell)));
      if ((columns[0]?.length ?? 0) === size) flush();
    }
    flush();
    app.flushSync();
  } finally {
    app.closeSync();
  }
}

function toValue(c: Cell): DuckDBValue {
  if (c === null) return null;
  switch (c.k) {
    case 'int': case 'str': return c.v;
    case 'date': return new DuckDBDateValue(c.v);
    case 'ts': return new DuckDBTimestampValue(BigInt(c.v));
    case 'cents': return new DuckDBDecimalValue(BigInt(c.v), 10, 2);
  }
}

const int = (v: number): Cell => ({ k: 'int', v });
const str = (v: string | null): Cell => (v === null ? null : { k: 'str', v });
const date = (days: number | null): Cell => (days === null ? null : { k: 'date', v: days });

/** mulberry32: tiny, fast, and good enough for synthetic data; never Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) { this.next = mulberry32(seed); }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)] as T; }
  digits(n: number): string { let s = ''; for (let i = 0; i < n; i++) s += String(this.int(0, 9)); return s; }
  weighted<T>(xs: readonly (readonly [T, number])[]): T {
    const total = xs.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [x, w] of xs) { r -= w; if (r < 0) return x; }
    return (xs[xs.length - 1] as readonly [T, number])[0];
  }
}

const dayOf = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / 86_400_000;
const isoDays = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

interface PatientFacts { phone: string; mrn: string }

class DatasetGenerator {
  private readonly facts = new Map<number, PatientFacts>();
  private readonly usedMrn = new Set<string>([CANARY.mrn]);
  private readonly usedSsn = new Set<string>([CANARY.ssn]);
  private readonly usedPhone = new Set<string>([CANARY.phone]);

  // Separate streams per table, so changing one table's generator leaves the others' rows alone.
  *providers(): Generator<Cell[]> {
    const r = new Rng(SEED ^ 0x1);
    for (let id = 1; id <= ROW_COUNTS.providers; id++) {
      const first = r.pick(FIRST_NAMES), last = r.pick(LAST_NAMES);
      yield [
        int(id), str(npi(r)), str(`Dr. ${first} ${last}`), str(r.pick(SPECIALTIES)),
        str(`${emailLocal(first)}.${emailLocal(last)}@clinic.example.org`), str(this.phone(r)),
      ];
    }
  }

  *patients(): Generator<Cell[]> {
    const r = new Rng(SEED ^ 0x2);
    for (let id = 1; id <= ORDINARY_PATIENTS; id++) {
      const first = r.pick(FIRST_NAMES), last = r.pick(LAST_NAMES);
      const mrn = this.unique(this.usedMrn, () => `MRN-${r.int(10_000_000, 98_999_999)}`);
      const ssn = this.unique(this.usedSsn, () => ssnOf(r));
      const place = r.weighted(PLACES.map((p) => [p, p.rare ? 1 : 3] as const));
      const zip = place.zip3 + r.digits(2);
      const phone = this.phone(r);
      const email = `${emailLocal(first)}.${emailLocal(last)}${r.int(1, 999)}@${r.pick(EMAIL_DOMAINS)}`;
      const address = `${r.int(1, 9999)} ${r.pick(STREETS)} ${r.pick(STREET_SUFFIXES)}${r.chance(0.2) ? ` Apt ${r.int(1, 40)}${r.pick(['A', 'B', 'C', 'D'])}` : ''}`;
      const dob = r.int(dayOf(1930, 1, 1), dayOf(2015, 12, 31));
      const sex = r.weighted([['F', 49], ['M', 49], ['X', 2]] as const);
      this.facts.set(id, { phone, mrn });
      yield [
        int(id), str(mrn), str(ssn), str(first), str(last), date(dob), str(sex), str(zip), str(place.city),
        str(place.state), str(phone), str(email), str(address),
        str(patientNote(r, { ssn, phone, email, mrn })), { k: 'ts', v: createdAt(r) },
      ];
    }
    this.facts.set(CANARY.patientId, { phone: CANARY.phone, mrn: CANARY.mrn });
    yield [
      int(CANARY.patientId), str(CANARY.mrn), str(CANARY.ssn), str(CANARY.firstName), str(CANARY.lastName),
      date(isoDays(CANARY.dob)), str('M'), str(CANARY.zip), str('Cambridge'), str('MA'), str(CANARY.phone),
      str(CANARY.email), str('1 Canary Lane'),
      str(`${CANARY.noteFragment} Prefers morning appointments.`),
      { k: 'ts', v: Date.UTC(2019, 6, 4, 9, 30, 0) * 1000 },
    ];
  }

  *encounters(): Generator<Cell[]> {
    const r = new Rng(SEED ^ 0x3);
    const canaryEncounters = 2;
    const ordinary = ROW_COUNTS.encounters - canaryEncounters;
    for (let id = 1; id <= ROW_COUNTS.encounters; id++) {
      const patientId = id <= ordinary ? r.int(1, ORDINARY_PATIENTS) : CANARY.patientId;
      const facts = this.facts.get(patientId) as PatientFacts;
      const type = r.weighted(ENCOUNTER_TYPES);
      const admit = r.int(dayOf(2015, 1, 1), dayOf(2024, 12, 31));
      const stay = type === 'inpatient' ? r.int(1, 14) : type === 'emergency' ? r.int(0, 1) : 0;
      // A few open or never-closed encounters, so discharge_date really is nullable.
      const discharge = r.chance(0.04) ? null : admit + stay;
      const dx = r.pick(DIAGNOSES);
      const [lo, hi] = CHARGE_RANGE[type];
      yield [
        int(id), int(patientId), int(r.int(1, ROW_COUNTS.providers)), date(admit), date(discharge), str(type),
        str(dx.code), { k: 'cents', v: r.int(lo * 100, hi * 100) },
        // The canary's encounters always carry its identifiers, so leak tests have them in both tables.
        str(patientId === CANARY.patientId ? canaryEncounterNote(id, dx.label) : encounterNote(r, type, dx.label, facts)),
      ];
    }
  }

  private phone(r: Rng): string {
    return this.unique(this.usedPhone, () => `${r.int(201, 989)}-${r.int(200, 999)}-${r.digits(4)}`);
  }

  private unique(used: Set<string>, draw: () => string): string {
    for (;;) {
      const v = draw();
      if (!used.has(v)) { used.add(v); return v; }
    }
  }
}

function ssnOf(r: Rng): string {
  // Area 100-899 but never 666 (never issued); group and serial never all zeros.
  let area = r.int(100, 898);
  if (area >= 666) area += 1;
  return `${area}-${String(r.int(1, 99)).padStart(2, '0')}-${String(r.int(1, 9999)).padStart(4, '0')}`;
}

/** A 10-digit NPI with a valid check digit (Luhn over the "80840" prefix, as CMS defines). */
function npi(r: Rng): string {
  const body = String(r.pick([1, 2])) + r.digits(8);
  const digits = `80840${body}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

function emailLocal(name: string): string {
  return name.toLowerCase().replace(/[^a-z]/g, '');
}

function createdAt(r: Rng): number {
  const start = Date.UTC(2015, 0, 1) / 1000, end = Date.UTC(2024, 11, 31, 23, 59, 59) / 1000;
  return r.int(start, end) * 1_000_000;
}

function patientNote(r: Rng, p: { ssn: string; phone: string; email: string; mrn: string }): string {
  // About a third of the notes carry the patient's own identifiers, the way real free text
  // does: this is what the `scrub` detectors exist for.
  if (r.chance(1 / 3)) {
    const t = r.pick(IDENTIFYING_PATIENT_NOTES);
    return t(p, r.pick(MEDICATIONS));
  }
  return `${r.pick(CLINICAL_OPENERS)} ${r.pick(CONDITIONS)}; ${r.pick(PLANS)}.`;
}

function encounterNote(r: Rng, type: string, dx: string, f: PatientFacts): string | null {
  if (r.chance(0.05)) return null;
  if (r.chance(0.15)) {
    return r.chance(0.5)
      ? `${capitalise(type)} visit for ${dx}. Follow-up call to ${f.phone} scheduled.`
      : `Labs for ${dx} filed under ${f.mrn}; results pending.`;
  }
  return `${capitalise(type)} visit for ${dx}. ${capitalise(r.pick(PLANS))}.`;
}

function canaryEncounterNote(id: number, dx: string): string {
  return id % 2 === 0
    ? `Visit for ${dx}. Follow-up call to ${CANARY.phone} scheduled.`
    : `Labs for ${dx} filed under ${CANARY.mrn}; results pending.`;
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------------------------
// Vocabulary (all fictional; names include apostrophes and hyphens on purpose)

const FIRST_NAMES = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth',
  'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen',
  'Christopher', 'Lisa', 'Daniel', 'Nancy', 'Matthew', 'Betty', 'Anthony', 'Margaret', 'Mark', 'Sandra',
  'Donald', 'Ashley', 'Steven', 'Kimberly', 'Paul', 'Emily', 'Andrew', 'Donna', 'Joshua', 'Michelle',
  'Kenneth', 'Carol', 'Kevin', 'Amanda', 'Brian', 'Dorothy', 'George', 'Melissa', 'Timothy', 'Deborah',
  'Wei', 'Priya', 'Mohammed', 'Fatima', 'Hiroshi', 'Yuki', 'José', 'María', 'Olumide', 'Chiamaka',
  'Sean', 'Siobhan', 'Anh', 'Minh', 'Dmitri', 'Olga', 'Aarav', 'Ananya', 'Mateo', 'Valentina',
  'Jean-Luc', 'Zoë', 'Noah', 'Ava', 'Liam', 'Mia', 'Ethan', 'Chloe', 'Lucas', 'Grace',
];

const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
  'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts',
  "O'Brien", "O'Connor", "D'Angelo", 'Smith-Jones', 'Okafor', 'Chen', 'Patel', 'Kim', 'Tanaka', 'Ivanova',
  'Kowalski', 'Müller', 'Haddad', 'Nakamura', 'Singh', 'Cohen', 'Schmidt', 'Rossi', 'Novak', 'Silva',
];

const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'patients.example.org'];

const STREETS = [
  'Elm', 'Oak', 'Maple', 'Cedar', 'Pine', 'Washington', 'Lincoln', 'Park', 'Lake', 'Hill', 'Main', 'Church',
  'River', 'Spring', 'Sunset', 'Highland', 'Chestnut', 'Walnut', 'Willow', 'Meadow',
];
const STREET_SUFFIXES = ['St', 'Ave', 'Rd', 'Blvd', 'Ln', 'Dr', 'Ct', 'Way'];

/** `rare` places are drawn a third as often (small areas, mostly Safe Harbor's restricted ones). */
interface Place { city: string; state: string; zip3: string; rare: boolean }
const place = (city: string, state: string, zip3: string): Place => ({ city, state, zip3, rare: false });
const rarePlace = (city: string, state: string, zip3: string): Place => ({ city, state, zip3, rare: true });

const PLACES: Place[] = [
  place('Boston', 'MA', '021'), place('New York', 'NY', '100'), place('Chicago', 'IL', '606'),
  place('Los Angeles', 'CA', '900'), place('San Francisco', 'CA', '941'), place('Houston', 'TX', '770'),
  place('Phoenix', 'AZ', '850'), place('Philadelphia', 'PA', '191'), place('San Antonio', 'TX', '782'),
  place('San Diego', 'CA', '921'), place('Dallas', 'TX', '752'), place('Seattle', 'WA', '981'),
  place('Denver', 'CO', '802'), place('Atlanta', 'GA', '303'), place('Miami', 'FL', '331'),
  place('Nashville', 'TN', '372'), place('Portland', 'OR', '972'), place('Saint Paul', 'MN', '551'),
  place('Kansas City', 'MO', '641'), place('Columbus', 'OH', '432'), place('Indianapolis', 'IN', '462'),
  place('Detroit', 'MI', '482'), place('Milwaukee', 'WI', '532'), place('Las Vegas', 'NV', '891'),
  place('Albuquerque', 'NM', '871'), place('Salt Lake City', 'UT', '841'), place('Charlotte', 'NC', '282'),
  place('Richmond', 'VA', '232'), place('Baltimore', 'MD', '212'), place('Hartford', 'CT', '061'),
  place('Providence', 'RI', '029'), place('Portland', 'ME', '041'), place('Burlington', 'VT', '054'),
  // Small areas, most of them Safe Harbor-restricted, so that zip3's '000' rule has rows to act on.
  rarePlace('Keene', 'NH', '036'), rarePlace('Island Pond', 'VT', '059'), rarePlace('New York', 'NY', '102'),
  rarePlace('Washington', 'DC', '203'), rarePlace('Washington', 'DC', '205'), rarePlace('Selma', 'AL', '369'),
  rarePlace('Grand Marais', 'MN', '556'), rarePlace('Valentine', 'NE', '692'), rarePlace('Yellowstone', 'WY', '821'),
  rarePlace('Rawlins', 'WY', '823'), rarePlace('Socorro', 'NM', '878'), rarePlace('Truth or Consequences', 'NM', '879'),
  rarePlace('Tucumcari', 'NM', '884'), rarePlace('Ely', 'NV', '893'),
];

const SPECIALTIES = [
  'Internal Medicine', 'Family Medicine', 'Cardiology', 'Endocrinology', 'Pulmonology', 'Emergency Medicine',
  'Pediatrics', 'Orthopedics', 'Neurology', 'Psychiatry', 'Oncology', 'Nephrology', 'Gastroenterology',
  'Obstetrics and Gynecology', 'Dermatology',
];

const ENCOUNTER_TYPES = [['outpatient', 55], ['telehealth', 20], ['emergency', 15], ['inpatient', 10]] as const;
const CHARGE_RANGE: Record<(typeof ENCOUNTER_TYPES)[number][0], [number, number]> = {
  outpatient: [80, 900], telehealth: [40, 300], emergency: [400, 6000], inpatient: [3000, 90000],
};

const DIAGNOSES = [
  { code: 'E11.9', label: 'type 2 diabetes without complications' },
  { code: 'E11.65', label: 'type 2 diabetes with hyperglycemia' },
  { code: 'I10', label: 'essential hypertension' },
  { code: 'I25.10', label: 'coronary artery disease' },
  { code: 'I48.91', label: 'atrial fibrillation' },
  { code: 'I50.9', label: 'heart failure' },
  { code: 'J45.909', label: 'asthma' },
  { code: 'J44.9', label: 'COPD' },
  { code: 'J18.9', label: 'pneumonia' },
  { code: 'J06.9', label: 'upper respiratory infection' },
  { code: 'U07.1', label: 'COVID-19' },
  { code: 'N18.3', label: 'chronic kidney disease stage 3' },
  { code: 'N39.0', label: 'urinary tract infection' },
  { code: 'E78.5', label: 'hyperlipidemia' },
  { code: 'E66.9', label: 'obesity' },
  { code: 'E03.9', label: 'hypothyroidism' },
  { code: 'F32.9', label: 'major depressive disorder' },
  { code: 'F41.1', label: 'generalized anxiety disorder' },
  { code: 'G43.909', label: 'migraine' },
  { code: 'M54.5', label: 'low back pain' },
  { code: 'M17.11', label: 'osteoarthritis of the right knee' },
  { code: 'K21.9', label: 'gastro-esophageal reflux' },
  { code: 'K35.80', label: 'acute appendicitis' },
  { code: 'S72.001A', label: 'fracture of the femur' },
  { code: 'R07.9', label: 'chest pain' },
  { code: 'R51.9', label: 'headache' },
  { code: 'Z00.00', label: 'routine general examination' },
  { code: 'Z23', label: 'immunization' },
  { code: 'O80', label: 'uncomplicated delivery' },
  { code: 'C50.911', label: 'breast cancer' },
];

const MEDICATIONS = ['metformin', 'lisinopril', 'atorvastatin', 'albuterol', 'levothyroxine', 'sertraline', 'amlodipine', 'omeprazole'];
const CONDITIONS = DIAGNOSES.map((d) => d.label);
const CLINICAL_OPENERS = ['Follow-up for', 'Seen for', 'Reviewed history of', 'Counseled on', 'Stable on treatment for'];
const PLANS = [
  'continue current medications', 'recheck labs in 3 months', 'referred to specialist', 'diet and exercise counseling',
  'no known drug allergies', 'BP 128/82, HR 72', 'return if symptoms worsen', 'medication reconciliation done',
  'patient declined flu vaccine', 'A1c 7.2, titrate dose',
];

const IDENTIFYING_PATIENT_NOTES: ((p: { ssn: string; phone: string; email: string; mrn: string }, med: string) => string)[] = [
  (p, med) => `Pt called from ${p.phone} re refill of ${med}.`,
  (p) => `Identity verified with SSN ${p.ssn} before release of records.`,
  (p) => `Portal message from ${p.email} asking about lab results.`,
  (p) => `Chart merged into ${p.mrn}; duplicate record retired.`,
  (p) => `Callback number ${p.phone}; prefers afternoons.`,
  (p) => `Sent visit summary to ${p.email}.`,
  (p) => `Insurance form lists SSN ${p.ssn}; copy scanned.`,
  (p, med) => `Scanned referral filed under ${p.mrn}; started ${med}.`,
];
