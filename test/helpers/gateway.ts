// Start a real gateway (HTTP on a loopback port, real DuckDB, the demo dataset) in-process,
// with the audit stream captured, for integration tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import winston from 'winston';
import { startGateway, type RunningGateway } from '../../src/gateway/server.ts';

/** One dataset cache per checkout, shared by all test files (generated once, atomically). */
export const TEST_CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache', 'test');

export const silentLog = () => winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });

export interface TestGateway extends RunningGateway {
  audit: string[];
  records(): any[];
  post(token: string | null, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string }>;
  get(path: string, token?: string): Promise<{ status: number; json: any; text: string }>;
}

export async function startTestGateway(policyYaml: string, tokensCsv: string): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'phigate-it-'));
  writeFileSync(join(dir, 'policy.yaml'), policyYaml);
  writeFileSync(join(dir, 'tokens.csv'), tokensCsv);
  const audit: string[] = [];
  const gw = await startGateway({
    files: [join(dir, 'policy.yaml')], port: 0, host: '127.0.0.1', tokenAuthFile: join(dir, 'tokens.csv'),
    cacheDir: TEST_CACHE_DIR, log: silentLog(), auditSink: (l) => audit.push(l), auditStream: 'test-gw',
  });
  await gw.loaded;
  const read = async (r: Response) => {
    const text = await r.text();
    let json: any = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, text };
  };
  return {
    ...gw,
    audit,
    records: () => audit.map((l) => JSON.parse(l)),
    post: async (token, body, headers = {}) => read(await fetch(`${gw.url}/api/v2/statements`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })),
    get: async (path, token) => read(await fetch(`${gw.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })),
  };
}

export const ACCEPTANCE_POLICY = `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: it-policy, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-1 } ]
  access:
    statements: [SELECT]
    tables: [ { name: PATIENTS, columns: ["*"] }, { name: ENCOUNTERS, columns: [ENCOUNTER_ID, PATIENT_ID, ADMIT_DATE, DIAGNOSIS_CODE] } ]
    maxRows: 50
  masking:
    rules:
      - { columns: [PATIENTS.SSN], strategy: redact }
      - { columns: [PATIENTS.DOB], strategy: year }
      - { columns: [PATIENTS.ZIP], strategy: zip3 }
      - { columns: [PATIENTS.PHONE], strategy: partial, keep: 4 }
      - { columns: ["*.EMAIL"], strategy: email_domain }
      - { columns: [PATIENTS.NOTES], strategy: scrub }
    detectors: [ssn, phone, email, mrn, date]
`;
export const TOKENS = 'tok-a,agent-1,u1,"agents"\ntok-nobody,stranger,u9,"others"\n';
