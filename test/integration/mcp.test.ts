// The MCP front end with the SDK's own client: over streamable HTTP against the real gateway,
// over the `phigate mcp` stdio bridge, and with the configuration the README gives agents.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startTestGateway, ACCEPTANCE_POLICY, TOKENS, type TestGateway } from '../helpers/gateway.ts';
import { BIN, ROOT, TEST_ENV } from '../helpers/cli.ts';

const SSN = /\b\d{3}-\d{2}-\d{4}\b/;
const CLIENT = { name: 'phigate-test', version: '1.2.3' };

let gw: TestGateway;
const clients: Client[] = [];

before(async () => { gw = await startTestGateway(ACCEPTANCE_POLICY, TOKENS); });
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await gw?.close();
});

async function httpClient(token: string | null, info = CLIENT, url = `${gw.url}/mcp`, headers?: Record<string, string>): Promise<Client> {
  const c = new Client(info);
  await c.connect(new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: headers ?? (token ? { authorization: `Bearer ${token}` } : {}) },
  }));
  clients.push(c);
  return c;
}

async function bridgeClient(token: string, info = { name: 'bridge-test', version: '0.0.1' }): Promise<Client> {
  const c = new Client(info);
  await c.connect(new StdioClientTransport({
    command: process.execPath, args: [BIN, 'mcp', '--server', gw.url, '--token', token], cwd: ROOT, env: TEST_ENV as Record<string, string>, stderr: 'pipe',
  }));
  clients.push(c);
  return c;
}

const textOf = (r: any): string => r.content.map((c: any) => c.text ?? '').join('\n');
const call = async (c: Client, name: string, args: Record<string, unknown> = {}) => {
  const r: any = await c.callTool({ name, arguments: args });
  return { isError: r.isError === true, text: textOf(r), json: (() => { try { return JSON.parse(textOf(r)); } catch { return null; } })() };
};
/** Statement records written since `from` (an index into the audit lines). */
const statementsSince = (from: number) => gw.audit.slice(from).map((l) => JSON.parse(l)).filter((r) => r.event === 'statement');
/** The parts of a statement record that must not depend on the front end. */
const comparable = (r: any) => {
  const { ts, id, seq, prevHash, hash, frontEnd, decisionMs, actor, ...rest } = r;
  return { ...rest, actor: { user: actor.user, groups: actor.groups } };
};

describe('MCP over streamable HTTP', () => {
  it('lists the tools with descriptions and JSON Schemas', async () => {
    const c = await httpClient('tok-a');
    const { tools } = await c.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const n of ['list_tables', 'describe_table', 'query', 'explain_policy', 'approval_status']) {
      const t = byName.get(n);
      assert.ok(t, `tool ${n}`);
      assert.ok((t.description ?? '').length > 60, `${n} has a description written for a model`);
      assert.equal(t.inputSchema.type, 'object');
    }
    const q = byName.get('query')!.inputSchema as any;
    assert.deepEqual(q.required, ['sql']);
    assert.ok(q.properties.justification && q.properties.unmask && q.properties.max_rows);
  });

  it('list_tables shows only what the policy allows, masked columns with strategy and why', async () => {
    const c = await httpClient('tok-a');
    const r = await call(c, 'list_tables');
    assert.equal(r.isError, false);
    const [p] = r.json.policies;
    assert.equal(p.policy, 'it-policy');
    assert.deepEqual(p.tables.map((t: any) => t.table), ['ENCOUNTERS', 'PATIENTS']);
    const enc = p.tables.find((t: any) => t.table === 'ENCOUNTERS');
    assert.deepEqual(enc.columns.map((c: any) => c.name.toUpperCase()), ['ENCOUNTER_ID', 'PATIENT_ID', 'ADMIT_DATE', 'DIAGNOSIS_CODE']);
    const ssn = p.tables.find((t: any) => t.table === 'PATIENTS').columns.find((c: any) => c.name.toUpperCase() === 'SSN');
    assert.equal(ssn.masking.strategy, 'redact');
    assert.match(ssn.masking.why, /it-policy/);
    assert.match(ssn.masking.effect, /REDACTED/);
    assert.doesNotMatch(r.text, /PROVIDERS/i);
  });

  it('describe_table describes an allowed table and refuses another as a tool error', async () => {
    const c = await httpClient('tok-a');
    const ok = await call(c, 'describe_table', { table: 'patients' });
    assert.equal(ok.isError, false);
    assert.equal(ok.json.table, 'PATIENTS');
    assert.equal(ok.json.columns.find((x: any) => x.name.toUpperCase() === 'DOB').masking.strategy, 'year');
    const no = await call(c, 'describe_table', { table: 'providers' });
    assert.equal(no.isError, true);
    assert.match(no.text, /table_not_allowed/);
    assert.match(no.text, /allowed tables: ENCOUNTERS, PATIENTS/);
  });

  it('query returns masked rows like the SQL API, says what was masked, and audits it the same way', async () => {
    const c = await httpClient('tok-a');
    const sql = 'SELECT patient_id, ssn, dob, phone, notes FROM patients ORDER BY patient_id LIMIT 5';
    const from = gw.audit.length;
    const r = await call(c, 'query', { sql, justification: 'test: masked query' });
    assert.equal(r.isError, false, r.text);
    assert.doesNotMatch(r.text, SSN);
    assert.deepEqual(r.json.columns.map((x: any) => x.name), ['patient_id', 'ssn', 'dob', 'phone', 'notes']);
    assert.equal(r.json.rows.length, 5);
    assert.equal(r.json.rows[0][1], '[REDACTED]');
    assert.match(r.json.rows[0][2], /^\d{4}-01-01$/);
    assert.match(r.json.rows[0][3], /^\*+\d{4}$/);
    assert.equal(r.json.masked.ssn, 'PATIENTS.SSN: redact');
    assert.equal(r.json.truncated, false);

    const [mcp] = statementsSince(from);
    assert.equal(mcp.frontEnd, 'mcp');
    assert.equal(mcp.actor.user, 'agent-1');
    assert.equal(mcp.actor.agent, 'phigate-test/1.2.3');
    assert.equal(mcp.decision.outcome, 'masked');
    assert.equal(mcp.id, r.json.statementId);
    const result = gw.records().find((x) => x.event === 'result' && x.statementId === mcp.id);
    assert.equal(result.result.rows, 5);
    assert.equal(result.result.complete, true);

    // The SQL API's record of the same statement differs only in front end, agent, ids and timing.
    const mark = gw.audit.length;
    const api = await gw.post('tok-a', { statement: sql });
    assert.equal(api.status, 200);
    const [sqlapi] = statementsSince(mark);
    assert.equal(sqlapi.frontEnd, 'sqlapi');
    assert.deepEqual(comparable(mcp), comparable(sqlapi));
    // The same values as the SQL API, dates aside (ISO text here, days since 1970 there).
    assert.deepEqual(r.json.rows.map((row: any[]) => [row[0], row[1], row[3], row[4]]), api.json.data.map((row: any[]) => [row[0], row[1], row[3], row[4]]));
  });

  it('a denial is a tool result with isError and text that says what to change, and is audited', async () => {
    const c = await httpClient('tok-a');
    const from = gw.audit.length;
    const drop = await call(c, 'query', { sql: 'DROP TABLE patients' });
    assert.equal(drop.isError, true);
    assert.match(drop.text, /rule ddl/);
    assert.match(drop.text, /What to change: send a read-only SELECT/);
    const star = await call(c, 'query', { sql: 'SELECT * FROM encounters' });
    assert.equal(star.isError, true);
    assert.match(star.text, /column_not_allowed/);
    assert.match(star.text, /allowed columns of ENCOUNTERS: ENCOUNTER_ID, PATIENT_ID, ADMIT_DATE, DIAGNOSIS_CODE/);
    const recs = statementsSince(from);
    assert.deepEqual(recs.map((x) => [x.frontEnd, x.decision.outcome, x.decision.code, x.actor.agent]), [
      ['mcp', 'denied', 'ddl', 'phigate-test/1.2.3'],
      ['mcp', 'denied', 'column_not_allowed', 'phigate-test/1.2.3'],
    ]);
  });

  it('an empty statement is refused and audited like the SQL API\'s bad request', async () => {
    const c = await httpClient('tok-a');
    const from = gw.audit.length;
    const r = await call(c, 'query', { sql: '  ' });
    assert.equal(r.isError, true);
    assert.match(r.text, /bad_request/);
    const [rec] = statementsSince(from);
    assert.deepEqual([rec.frontEnd, rec.decision.outcome, rec.decision.code], ['mcp', 'denied', 'bad_request']);
  });

  it('cuts a large result off at max_rows, says so, and audits it as cut off', async () => {
    const c = await httpClient('tok-a');
    const from = gw.audit.length;
    const r = await call(c, 'query', { sql: 'SELECT patient_id FROM patients ORDER BY patient_id', max_rows: 3 });
    assert.equal(r.isError, false);
    assert.deepEqual(r.json.rows, [['1'], ['2'], ['3']]);
    assert.equal(r.json.truncated, true);
    assert.match(r.json.note, /cut off/);
    const result = gw.audit.slice(from).map((l) => JSON.parse(l)).find((x) => x.event === 'result');
    assert.equal(result.result.complete, false);
  });

  it('explain_policy describes the policy, and a statement\'s decision without running it', async () => {
    const c = await httpClient('tok-a');
    const from = gw.audit.length;
    const all = await call(c, 'explain_policy');
    assert.equal(all.isError, false);
    assert.equal(all.json.maxRows, 50);
    assert.deepEqual(all.json.statements, ['SELECT']);
    assert.ok(all.json.guardrails.some((g: any) => g.deny === 'ddl'));
    assert.equal(all.json.tables.find((t: any) => t.table === 'PATIENTS').masked.SSN, 'redact');
    const masked = await call(c, 'explain_policy', { sql: 'SELECT ssn FROM patients' });
    assert.equal(masked.json.decision.outcome, 'masked');
    assert.deepEqual(masked.json.decision.masked, [{ column: 'PATIENTS.SSN', strategy: 'redact' }]);
    assert.equal(masked.json.wouldRun, true);
    const denied = await call(c, 'explain_policy', { sql: 'SELECT discharge_date FROM encounters' });
    assert.equal(denied.json.decision.outcome, 'denied');
    assert.equal(denied.json.decision.rule, 'column_not_allowed');
    assert.equal(denied.json.wouldRun, false);
    const unanalysable = await call(c, 'explain_policy', { sql: 'SELECT * FROM read_csv(\'/etc/passwd\')' });
    assert.equal(unanalysable.json.decision.outcome, 'denied');
    assert.equal(gw.audit.length, from, 'explaining runs nothing and writes no statement record');
  });

  it('approval_status refuses a name the caller cannot see, as a tool error', async () => {
    const c = await httpClient('tok-a');
    const r = await call(c, 'approval_status', { name: 'nope-123456' });
    assert.equal(r.isError, true);
    assert.match(r.text, /approval_not_found/);
  });

  it('a user no policy names gets tool errors that say so', async () => {
    const c = await httpClient('tok-nobody');
    const from = gw.audit.length;
    const lt = await call(c, 'list_tables');
    assert.equal(lt.isError, true);
    assert.match(lt.text, /no_policy/);
    const q = await call(c, 'query', { sql: 'SELECT 1' });
    assert.equal(q.isError, true);
    const [rec] = statementsSince(from);
    assert.deepEqual([rec.frontEnd, rec.decision.outcome, rec.decision.code, rec.actor.user], ['mcp', 'denied', 'no_policy', 'stranger']);
  });
});

describe('MCP authentication', () => {
  for (const [label, token] of [['no token', null], ['a wrong token', 'not-a-token']] as const) {
    it(`refuses ${label} with 401 and audits it`, async () => {
      const from = gw.audit.length;
      await assert.rejects(httpClient(token), (e: any) => e.code === 401);
      const recs = statementsSince(from);
      assert.ok(recs.length >= 1);
      for (const r of recs) {
        assert.equal(r.frontEnd, 'mcp');
        assert.equal(r.decision.outcome, 'unauthenticated');
        assert.equal(r.actor.user, null);
      }
      const raw = await fetch(`${gw.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: '{}' });
      assert.equal(raw.status, 401);
      assert.match(raw.headers.get('www-authenticate') ?? '', /^Bearer/);
    });
  }

  it('authenticates every request of a session: another user cannot use its session id', async () => {
    const c = await httpClient('tok-a');
    const sid = (c.transport as StreamableHTTPClientTransport).sessionId!;
    assert.ok(sid);
    const send = (token: string) => fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }),
    });
    assert.equal((await send('tok-nobody')).status, 404);
    const from = gw.audit.length;
    assert.equal((await send('not-a-token')).status, 401);
    assert.equal(statementsSince(from)[0].decision.outcome, 'unauthenticated');
    const own = await send('tok-a');
    assert.equal(own.status, 200);
    assert.match(await own.text(), /list_tables/);
  });

  it('a closed session is gone', async () => {
    const c = await httpClient('tok-a');
    const t = c.transport as StreamableHTTPClientTransport;
    const sid = t.sessionId!;
    await t.terminateSession();
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok-a', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(r.status, 404);
  });
});

describe('MCP over the stdio bridge (phigate mcp)', () => {
  it('lists, queries masked data and relays a denial, audited with the agent\'s name', async () => {
    const c = await bridgeClient('tok-a');
    const { tools } = await c.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['approval_status', 'describe_table', 'explain_policy', 'list_tables', 'query']);
    const lt = await call(c, 'list_tables');
    assert.match(lt.text, /PATIENTS/);
    const from = gw.audit.length;
    const q = await call(c, 'query', { sql: 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 3' });
    assert.equal(q.isError, false, q.text);
    assert.doesNotMatch(q.text, SSN);
    assert.equal(q.json.rows[0][1], '[REDACTED]');
    const d = await call(c, 'query', { sql: 'DROP TABLE patients' });
    assert.equal(d.isError, true);
    assert.match(d.text, /rule ddl/);
    const recs = statementsSince(from);
    assert.deepEqual(recs.map((r) => [r.frontEnd, r.decision.outcome]), [['mcp', 'masked'], ['mcp', 'denied']]);
    for (const r of recs) assert.match(r.actor.agent, /^bridge-test\/0\.0\.1 via phigate-bridge\//);
  });

  it('a wrong token is refused by the gateway, audited, and reported to the agent', async () => {
    const from = gw.audit.length;
    const c = await bridgeClient('not-a-token');
    await assert.rejects(c.listTools(), /refused the bearer token \(401\)/);
    const r = await call(c, 'query', { sql: 'SELECT 1' });
    assert.equal(r.isError, true);
    assert.match(r.text, /401/);
    const recs = statementsSince(from);
    assert.ok(recs.length >= 1);
    for (const x of recs) assert.deepEqual([x.frontEnd, x.decision.outcome], ['mcp', 'unauthenticated']);
  });
});

describe('on the demo policy', () => {
  let demo: TestGateway;
  before(async () => {
    // The demo policy and the demo tokens, as `npm start` serves them.
    demo = await startTestGateway(readFileSync(join(ROOT, 'manifests/examples/demo-policy.yaml'), 'utf8'),
      'phigate-demo-agent,demo-agent,demo-agent,"agents"\nphigate-demo-reviewer,demo-reviewer,demo-reviewer,"privacy-office"\n');
  });
  after(async () => { await demo?.close(); });

  describe('MCP approval round trip', () => {
    it('an unmask returns the pending request at once; after review the byte-identical query runs once', async () => {
      const c = await httpClient('phigate-demo-agent', CLIENT, `${demo.url}/mcp`);
      const sql = 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 2';
      const pending = await call(c, 'query', { sql, unmask: ['PATIENTS.SSN'], justification: 'ticket DATA-412' });
      assert.equal(pending.isError, false, pending.text);
      assert.equal(pending.json.status, 'pending_approval');
      assert.deepEqual(pending.json.reasons, ['unmasked PATIENTS.SSN']);
      assert.match(pending.json.retry, /byte-identical/);
      const name: string = pending.json.approvalRequest;
      // Not yet approved: asking again answers pending again, and nothing ran.
      assert.equal((await call(c, 'query', { sql, unmask: ['PATIENTS.SSN'] })).json.status, 'pending_approval');
      const waiting = await call(c, 'approval_status', { name });
      assert.equal(waiting.isError, false, waiting.text);
      assert.deepEqual([waiting.json.phase, waiting.json.approvals, waiting.json.requiredApprovals], ['Pending', 0, 1]);
      const review = await fetch(`${demo.url}/api/v1/approvals/${name}/review`, {
        method: 'POST', headers: { authorization: 'Bearer phigate-demo-reviewer', 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'Approved', reason: 'ticket DATA-412' }),
      });
      assert.equal(review.status, 200, await review.clone().text());
      const approved = await call(c, 'approval_status', { name });
      assert.equal(approved.json.phase, 'Approved');
      assert.match(approved.json.next, /byte-identical/);
      const from = demo.audit.length;
      const ran = await call(c, 'query', { sql, unmask: ['PATIENTS.SSN'] });
      assert.equal(ran.isError, false, ran.text);
      assert.equal(ran.json.rows.length, 2);
      assert.match(ran.json.rows[0][1], SSN, 'approved: SSN in clear');
      assert.equal(ran.json.masked.ssn, undefined);
      const rec = demo.audit.slice(from).map((l) => JSON.parse(l)).find((r) => r.event === 'statement');
      assert.deepEqual([rec.frontEnd, rec.actor.agent, rec.approval?.phase], ['mcp', 'phigate-test/1.2.3', 'Executed']);
      // Used once: the same statement again needs a new approval.
      assert.equal((await call(c, 'query', { sql, unmask: ['PATIENTS.SSN'] })).json.status, 'pending_approval');
    });
  });

  describe('README: agent configuration for MCP', () => {

    const section = () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const start = readme.indexOf('## Agents over MCP');
      assert.ok(start >= 0, 'README has a section "Agents over MCP"');
      const end = readme.indexOf('\n## ', start + 3);
      return readme.slice(start, end < 0 ? undefined : end);
    };
    const blocks = (lang: string) => [...section().matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
    const local = (url: string) => url.replace('http://127.0.0.1:8080', demo.url);

    const check = async (c: Client, label: string) => {
      clients.push(c);
      const lt = await call(c, 'list_tables');
      assert.equal(lt.isError, false, `${label}: ${lt.text}`);
      assert.match(lt.text, /PATIENTS/);
      const q = await call(c, 'query', { sql: 'SELECT ssn FROM patients LIMIT 2' });
      assert.equal(q.isError, false, `${label}: ${q.text}`);
      assert.deepEqual(q.json.rows, [['[REDACTED]'], ['[REDACTED]']]);
      await c.close();
    };

    it('every JSON configuration in the section connects with the SDK client', async () => {
      const configs = blocks('json').map((b) => JSON.parse(b));
      const servers = configs.flatMap((c) => Object.values(c.mcpServers ?? {})) as any[];
      assert.ok(servers.filter((s) => s.url).length >= 2, 'at least two agents\' HTTP configurations');
      assert.ok(servers.some((s) => s.command), 'a stdio bridge configuration');
      for (const s of servers) {
        const c = new Client({ name: 'readme-check', version: '1.0.0' });
        if (s.url) {
          assert.ok(s.type === undefined || s.type === 'http');
          assert.match(s.headers.Authorization, /^Bearer \S+$/);
          await c.connect(new StreamableHTTPClientTransport(new URL(local(s.url)), { requestInit: { headers: s.headers } }));
        } else {
          assert.equal(s.command, 'node');
          const args = (s.args as string[]).map((a) => local(a.replace('/path/to/phigate', ROOT)));
          await c.connect(new StdioClientTransport({ command: process.execPath, args, cwd: ROOT, env: { ...TEST_ENV, ...s.env } as Record<string, string>, stderr: 'pipe' }));
        }
        await check(c, JSON.stringify(s));
      }
    });

    it('the claude mcp add command connects with the SDK client', async () => {
      const cmds = blocks('sh').flatMap((b) => b.split('\n')).filter((l) => l.startsWith('claude mcp add'));
      assert.equal(cmds.length, 1);
      const m = /^claude mcp add --transport http (\S+) (\S+) --header "([^":]+): ([^"]+)"$/.exec(cmds[0]!);
      assert.ok(m, cmds[0]);
      const c = new Client({ name: 'readme-check', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(local(m[2]!)), { requestInit: { headers: { [m[3]!]: m[4]! } } }));
      await check(c, cmds[0]!);
    });
  });
});
