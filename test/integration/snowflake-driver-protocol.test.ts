// The driver protocol at the HTTP level, for what the drivers' happy paths do not show:
// session renewal and logout, isolation between users, chunk URLs that die with the session,
// cancelling a statement that waits for approval, and refused requests in the audit log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const POLICIES = `
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: p1, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-1 }, { kind: User, name: agent-2 } ]
  access: { statements: [SELECT], tables: [ { name: ENCOUNTERS, columns: ["*"] } ], maxRows: 20000 }
---
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: p2, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-3 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: [PATIENT_ID] } ] }
  approval: { requiredWhen: [ { tables: [PATIENTS] } ], approvers: [ { kind: Group, name: privacy } ] }
`;
const TOKENS = 'tok-1,agent-1,u1,"a"\ntok-2,agent-2,u2,"a"\ntok-3,agent-3,u3,"a"\n';

let gw: TestGateway;
before(async () => { gw = await startTestGateway(POLICIES, TOKENS); });
after(async () => { await gw?.close(); });

async function post(path: string, body: unknown, token?: string, gzip = false) {
  const raw = Buffer.from(JSON.stringify(body));
  const r = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}), ...(token ? { authorization: `Snowflake Token="${token}"` } : {}) },
    body: gzip ? gzipSync(raw) : raw,
  });
  return r.json() as Promise<any>;
}
async function get(path: string, token: string) {
  return (await fetch(`${gw.url}${path}`, { headers: { authorization: `Snowflake Token="${token}"` } })).json() as Promise<any>;
}
async function login(password: string, user = 'agent') {
  const r = await post('/session/v1/login-request?databaseName=CLINICAL', { data: { LOGIN_NAME: user, PASSWORD: password, CLIENT_APP_ID: 'raw-test', SESSION_PARAMETERS: {} } }, undefined, true);
  assert.equal(r.success, true, JSON.stringify(r));
  return r.data as { token: string; masterToken: string };
}

describe('driver protocol over raw HTTP', () => {
  it('renews the session token with the master token; the old one is gone', async () => {
    const s = await login('tok-1');
    assert.equal((await post('/session/heartbeat', {}, s.token)).success, true);
    const renewed = await post('/session/token-request', { oldSessionToken: s.token, requestType: 'RENEW' }, s.masterToken);
    assert.equal(renewed.success, true);
    assert.notEqual(renewed.data.sessionToken, s.token);
    assert.equal((await post('/queries/v1/query-request', { sqlText: 'SELECT 1' }, s.token)).code, '390111');
    const q = await post('/queries/v1/query-request', { sqlText: 'SELECT COUNT(*) FROM encounters' }, renewed.data.sessionToken);
    assert.equal(q.success, true, JSON.stringify(q));
    assert.deepEqual(q.data.rowset, [['50000']]);
    assert.equal((await post('/session/token-request', { requestType: 'RENEW' }, 'bogus')).code, '390114');
  });

  it('keeps results to their user, and chunk URLs die with the session', async () => {
    const a = await login('tok-1');
    const b = await login('tok-2');
    const q = await post('/queries/v1/query-request', { sqlText: 'SELECT encounter_id, notes FROM encounters ORDER BY encounter_id' }, a.token);
    assert.equal(q.success, true);
    assert.equal(q.data.total, 20000);
    assert.ok(q.data.chunks.length >= 1);
    const url = q.data.chunks[0].url as string;
    const chunk = await fetch(url);
    assert.equal(chunk.status, 200);
    assert.equal(JSON.parse(`[${await chunk.text()}]`).length, q.data.chunks[0].rowCount);
    // Another user cannot read it by id.
    assert.equal((await get(`/queries/${q.data.queryId}/result`, b.token)).success, false);
    assert.deepEqual((await get(`/monitoring/queries/${q.data.queryId}`, b.token)).data.queries, []);
    // The owner can, again.
    assert.equal((await get(`/queries/${q.data.queryId}/result`, a.token)).data.total, 20000);
    assert.equal((await post('/session?delete=true', {}, a.token)).success, true);
    assert.equal((await fetch(url)).status, 404, 'logout deletes the spooled chunks');
  });

  it('shows a statement waiting for approval as running (BLOCKED), and cancels it on abort', async () => {
    const s = await login('tok-3');
    const q = await post('/queries/v1/query-request', { sqlText: 'SELECT patient_id FROM patients LIMIT 1', asyncExec: true }, s.token);
    assert.equal(q.code, '333334');
    const id = q.data.queryId;
    let status = '';
    for (let i = 0; i < 50 && status !== 'BLOCKED'; i++) {
      status = (await get(`/monitoring/queries/${id}`, s.token)).data.queries[0].status;
      if (status !== 'BLOCKED') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'BLOCKED');
    assert.equal((await post(`/queries/${id}/abort-request`, {}, s.token)).success, true);
    const m = (await get(`/monitoring/queries/${id}`, s.token)).data.queries[0];
    assert.equal(m.status, 'FAILED_WITH_ERROR');
    const r = await get(`/queries/${id}/result`, s.token);
    assert.equal(r.success, false);
    assert.equal(r.code, '000604');
  });

  it('refuses unsupported authenticators and bad sessions with driver codes, and audits them', async () => {
    const jwt = await post('/session/v1/login-request', { data: { LOGIN_NAME: 'x', AUTHENTICATOR: 'SNOWFLAKE_JWT', TOKEN: 'eyJ...' } });
    assert.equal(jwt.success, false);
    assert.equal(jwt.code, '390100');
    assert.match(jwt.message, /phigate token as the password/);
    assert.equal((await post('/queries/v1/query-request', { sqlText: 'SELECT 1' })).code, '390111');
    const recs = gw.records().filter((x) => x.frontEnd === 'driver' && x.decision?.outcome === 'unauthenticated');
    assert.ok(recs.length >= 2);
    assert.ok(!JSON.stringify(gw.records()).includes('tok-1'), 'no credential in the audit log');
  });
});
