import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AuditWriter, AuditWriteError } from '../../../src/audit/writer.ts';
import { hashRecord, GENESIS_HASH } from '../../../src/audit/chain.ts';
import { verifyAuditLog } from '../../../src/audit/verify.ts';
import { capturingWriter, result, statement } from './fixtures.ts';

test('fills the chain fields: seq from 0, prevHash from 64 zeros, hash over the content', () => {
  const { writer, lines } = capturingWriter('gw-1');
  const first = writer.write(statement());
  const second = writer.write(result(first.id));
  assert.equal(first.seq, 0);
  assert.equal(first.prevHash, GENESIS_HASH);
  assert.equal(first.hash, hashRecord(first));
  assert.equal(second.seq, 1);
  assert.equal(second.prevHash, first.hash);
  assert.equal(first.kind, 'phigate.audit/v1');
  assert.equal(first.stream, 'gw-1');
  assert.equal(first.ts, '2026-11-24T10:00:00.000Z');
  assert.equal(first.id, 'gw-1-id-0');
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [first, second]);
  assert.equal(writer.nextSeq, 2);
  assert.equal(writer.head, second.hash);
});

test('keeps an id the caller gives and starts each line with ts, kind, event', () => {
  const { writer, lines } = capturingWriter();
  writer.write(statement({ id: 'my-id' }));
  assert.match(lines[0]!, /^\{"ts":"[^"]+","kind":"phigate\.audit\/v1","event":"statement","id":"my-id","stream":"gw-1","seq":0,"prevHash":"0{64}","hash":"[0-9a-f]{64}",/);
});

test('the writer fields cannot be overridden by the input', () => {
  const { writer } = capturingWriter();
  const smuggled = { ...statement(), seq: 99, stream: 'other', prevHash: 'x', hash: 'y' } as unknown as Parameters<AuditWriter['write']>[0];
  const r = writer.write(smuggled);
  assert.equal(r.seq, 0);
  assert.equal(r.stream, 'gw-1');
  assert.equal(r.prevHash, GENESIS_HASH);
  assert.equal(r.hash, hashRecord(r));
});

test('writes synchronously: the line is in the sink when write returns, from the first record on', () => {
  const { writer, lines } = capturingWriter();
  for (let i = 0; i < 100; i++) {
    const r = writer.write(statement());
    assert.equal(lines.length, i + 1, `record ${i} not delivered synchronously`);
    assert.equal(JSON.parse(lines[i]!).hash, r.hash);
  }
});

test('throws AuditWriteError when the sink throws, and the chain does not advance', () => {
  let fail = false;
  const lines: string[] = [];
  const writer = new AuditWriter({ stream: 'gw-1', sink: (l) => { if (fail) throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }); lines.push(l); } });
  const first = writer.write(statement());
  fail = true;
  assert.throws(() => writer.write(statement()), (err: unknown) => {
    assert.ok(err instanceof AuditWriteError);
    assert.equal(err.seq, 1);
    assert.match(err.message, /seq 1 of stream gw-1 was not written: write EPIPE/);
    return true;
  });
  assert.equal(writer.nextSeq, 1);
  assert.equal(writer.head, first.hash);
  fail = false;
  const next = writer.write(statement());
  assert.equal(next.seq, 1);
  assert.equal(next.prevHash, first.hash);
  assert.equal(lines.length, 2);
  assert.equal(verifyAuditLog(lines.join('\n')).ok, true);
});

test('keeps working after many failed writes (the winston pipeline is not left stuck)', () => {
  let fail = true;
  const lines: string[] = [];
  const writer = new AuditWriter({ stream: 'gw-1', sink: (l) => { if (fail) throw new Error('EAGAIN'); lines.push(l); } });
  for (let i = 0; i < 40; i++) assert.throws(() => writer.write(statement()), AuditWriteError);
  fail = false;
  for (let i = 0; i < 5; i++) writer.write(statement());
  assert.equal(lines.length, 5);
  assert.equal(verifyAuditLog(lines.join('\n')).ok, true);
});

test('a record winston holds back is reported as not written, and is never written later', async () => {
  // A write from inside the sink is re-entrant: winston buffers it instead of delivering it.
  const lines: string[] = [];
  let inner: unknown;
  let reenter = true;
  const writer: AuditWriter = new AuditWriter({
    stream: 'gw-1',
    sink: (l) => {
      lines.push(l);
      if (reenter) {
        reenter = false;
        try { writer.write(statement({ session: 'inner' })); } catch (err) { inner = err; }
      }
    },
  });
  writer.write(statement());
  assert.ok(inner instanceof AuditWriteError);
  assert.match(inner.message, /winston did not deliver it to the transport synchronously/);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1, 'the held-back record reached the sink later');
  writer.write(statement());
  assert.equal(lines.length, 2);
  assert.equal(verifyAuditLog(lines.join('\n')).ok, true);
});

test('throws AuditWriteError and writes nothing for a record that cannot be encoded', () => {
  const { writer, lines } = capturingWriter();
  assert.throws(() => writer.write(statement({ decisionMs: NaN })), AuditWriteError);
  assert.equal(lines.length, 0);
  assert.equal(writer.nextSeq, 0);
});

test('rejects an empty stream name', () => {
  assert.throws(() => new AuditWriter({ stream: ' ' }), TypeError);
});

const child = fileURLToPath(new URL('./stdout-child.ts', import.meta.url));

function runChild(args: string[], opts: { pauseMs?: number; closeStdout?: boolean } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    if (opts.closeStdout) p.stdout.destroy();
    else p.stdout.on('data', (d) => { stdout += d; });
    if (opts.pauseMs) {
      // Hold the pipe full until the child has started writing, then drain it.
      p.stdout.pause();
      p.stderr.once('data', () => setTimeout(() => p.stdout.resume(), opts.pauseMs));
    }
    const timer = setTimeout(() => { p.kill(); reject(new Error('child timed out')); }, 20_000);
    p.on('error', reject);
    p.on('close', () => { clearTimeout(timer); resolve({ stdout, stderr }); });
  });
}

test('default sink: stdout holds only audit lines, and they verify', async () => {
  const { stdout, stderr } = await runChild(['3']);
  assert.match(stderr, /written=3/);
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  for (const l of lines) assert.equal(JSON.parse(l).kind, 'phigate.audit/v1');
  assert.deepEqual(verifyAuditLog(stdout).ok, true);
});

test('default sink: a full non-blocking stdout pipe (EAGAIN) is retried, nothing lost or torn', async () => {
  // ~200 records of 2 KB overflow the pipe while the reader is paused.
  const { stdout, stderr } = await runChild(['200', 'touch'], { pauseMs: 150 });
  const m = /written=200 eagain=(\d+)/.exec(stderr);
  assert.ok(m, stderr);
  assert.ok(Number(m[1]) > 0, 'the pipe never filled, so EAGAIN was not exercised');
  const v = verifyAuditLog(stdout);
  assert.equal(v.ok, true, JSON.stringify(v.firstBreak));
  assert.equal(v.records, 200);
});

test('default sink: a closed stdout (EPIPE) makes write throw AuditWriteError', async () => {
  const { stderr } = await runChild(['1', 'wait'], { closeStdout: true });
  assert.match(stderr, /written=0 threw=AuditWriteError nextSeq=0 cause=EPIPE/);
});

test('default sink: EAGAIN retries are bounded, then write throws and the chain stops', async () => {
  const { stdout, stderr } = await runChild(['400', 'touch'], { pauseMs: 3000 });
  const m = /written=(\d+) threw=AuditWriteError nextSeq=(\d+) cause=EAGAIN/.exec(stderr);
  assert.ok(m, stderr);
  assert.equal(m[1], m[2]);
  const v = verifyAuditLog(stdout);
  assert.equal(v.records, Number(m[1]));
  // Either the pipe took whole lines only, or the last line was cut off and verify says so.
  if (!v.ok) assert.match(v.firstBreak!.problem, /not valid JSON \(cut off or edited\)/);
});

test('defaultStreamName differs between processes on one pod (pid is often 1 in containers)', async () => {
  const { defaultStreamName } = await import('../../../src/audit/writer.ts');
  const a = defaultStreamName();
  assert.match(a, new RegExp(`^.+-${process.pid}-[0-9a-f]{6}$`));
  assert.notEqual(a, defaultStreamName());
});
