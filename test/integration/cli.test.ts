// The real binary: --help, start-up errors, demo, and every example in the README.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phigateSync, startCli, ROOT, type RunningCli } from '../helpers/cli.ts';

describe('phigate --help', () => {
  it('lists the subcommands, and each has true help', () => {
    const top = phigateSync(['--help']);
    assert.equal(top.status, 0);
    for (const c of ['serve', 'demo', 'audit']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
    const serve = phigateSync(['serve', '--help']);
    for (const o of ['--filename', '--port', '--token-auth-file', '--host']) assert.match(serve.stdout, new RegExp(o));
    assert.match(phigateSync(['audit', 'verify', '--help']).stdout, /hash chain/);
    assert.match(phigateSync(['audit', 'replay', '--help']).stdout, /--session/);
  });
  it('an unknown option is an error that points at --help', () => {
    const r = phigateSync(['serve', '--bogus']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--help/);
  });
});

describe('phigate serve: start-up errors a person can act on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'phigate-cli-'));
  it('an invalid policy names the file, the field and what is wrong', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, readFileSync(join(ROOT, 'manifests/examples/demo-policy.yaml'), 'utf8').replace('strategy: year', 'strategy: yearly'));
    writeFileSync(join(dir, 't.csv'), 'tok,agent,u1\n');
    const r = phigateSync(['serve', '-f', f, '--token-auth-file', join(dir, 't.csv'), '--port', '0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.yaml/);
    assert.match(r.stderr, /spec\.masking\.rules\[\d\]\.strategy/);
    assert.equal(r.stdout, '', 'nothing but audit records on stdout');
  });
  it('no token file is refused', () => {
    const r = phigateSync(['serve', '-f', join(ROOT, 'manifests/examples/demo-policy.yaml'), '--port', '0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--token-auth-file/);
  });
});

describe('README examples, against phigate demo', () => {
  let demo: RunningCli;
  before(async () => { demo = await startCli(['demo']); });
  after(async () => { await demo?.stop(); });

  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const curls = blocks.filter((b) => b.trimStart().startsWith('curl'));

  it('the README starts with the two commands, and .ci/run runs the same test command', () => {
    const first = blocks[0]!;
    assert.match(first, /^npm ci && npm start/m);
    assert.match(first, /^npm test/m);
    assert.match(readFileSync(join(ROOT, '.ci/run'), 'utf8'), /^npm test$/m);
  });

  it('every curl example answers with a Snowflake-shaped body', () => {
    assert.ok(curls.length >= 5);
    const port = new URL(demo.url).port;
    for (const c of curls) {
      const out = execFileSync('bash', ['-c', c.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)], { encoding: 'utf8' });
      const body = JSON.parse(out);
      assert.match(body.code, /^\d{6}$/, c);
      if (body.code === '090001') assert.ok(body.data.length > 0, c);
      assert.ok(!/\b\d{3}-\d{2}-\d{4}\b/.test(out), 'no SSN-shaped value in a masked demo answer');
    }
  });

  it('the approval commands in the README work against the demo', async () => {
    const port = new URL(demo.url).port;
    const block = blocks.find((b) => b.includes('npx phigate approve'))!;
    const ask = async (limit: number) => (await fetch(`${demo.url}/api/v2/statements`, {
      method: 'POST',
      headers: { authorization: 'Bearer phigate-demo-agent', 'content-type': 'application/json' },
      body: JSON.stringify({ statement: `SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT ${limit}`, unmask: ['PATIENTS.SSN'] }),
    })).json();
    const first = await ask(2);
    const second = await ask(3);
    assert.equal(first.code, '333334');
    for (const line of block.trim().split('\n')) {
      const name = line.includes('phigate deny') ? second.approvalRequest : first.approvalRequest;
      // Not all examples can succeed in a row (the second request is the one denied), so
      // each runs against its own request; every one must exit 0.
      const cmd = line.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`).replace('demo-1a2b3c', name).replace(/^npx phigate/, `node ${JSON.stringify(join(ROOT, 'bin/phigate.mjs'))}`);
      const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn('bash', ['-c', cmd], { cwd: ROOT });
        let stderr = '';
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(out.code, 0, `${line}: ${out.stderr}`);
    }
    const run = await (await fetch(`${demo.url}${first.statementStatusUrl}`, { headers: { authorization: 'Bearer phigate-demo-agent' } })).json();
    assert.equal(run.code, '090001');
    assert.match(run.data[0][1], /^\d{3}-\d{2}-\d{4}$/, 'the approved column arrives in clear (synthetic data)');
  });

  it('the audit commands in the README work on what the demo wrote', async () => {
    await demo.stop();
    const dir = mkdtempSync(join(tmpdir(), 'phigate-readme-'));
    const log = join(dir, 'audit.log');
    writeFileSync(log, demo.stdout());
    const v = phigateSync(['audit', 'verify', log]);
    assert.equal(v.status, 0, v.stderr);
    const sessions = phigateSync(['audit', 'replay', log]);
    assert.equal(sessions.status, 0);
    const session = JSON.parse(sessions.stdout.split('\n')[0]!).session;
    const replay = phigateSync(['audit', 'replay', '--session', session, log]);
    assert.equal(replay.status, 0);
    assert.match(replay.stdout, /SELECT state, COUNT\(\*\)/);
    assert.match(replay.stdout, /DROP TABLE patients/);
    // Tampering is detected and named.
    const lines = demo.stdout().split('\n').filter(Boolean);
    lines.splice(1, 1);
    writeFileSync(log, lines.join('\n'));
    const broken = phigateSync(['audit', 'verify', log]);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /BROKEN at line/);
  });
});
