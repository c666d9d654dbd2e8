import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashRecord } from '../../../src/audit/chain.ts';
import { verifyAuditLog } from '../../../src/audit/verify.ts';
import { capturingWriter, makeLog, result, statement } from './fixtures.ts';

const join = (lines: string[]) => `${lines.join('\n')}\n`;

/** Parse line i, change it with `edit`, write it back (hash untouched unless `rehash`). */
function editLine(lines: string[], i: number, edit: (r: Record<string, any>) => void, rehash = false): string[] {
  const copy = [...lines];
  const r = JSON.parse(copy[i]!);
  edit(r);
  if (rehash) r.hash = hashRecord(r);
  copy[i] = JSON.stringify(r);
  return copy;
}

test('a chain of many records verifies', () => {
  const { lines } = makeLog(500);
  const v = verifyAuditLog(join(lines));
  assert.equal(v.ok, true);
  assert.equal(v.records, 500);
  assert.equal(v.streams, 1);
  assert.equal(v.firstBreak, undefined);
  assert.deepEqual(v.perStream.map((s) => [s.stream, s.records, s.firstSeq, s.lastSeq, s.truncatedStart]), [['gw-1', 500, 0, 499, false]]);
});

test('an empty log or one without audit lines is ok with no records', () => {
  assert.deepEqual(verifyAuditLog('').records, 0);
  assert.equal(verifyAuditLog('hello\n{"level":"info"}\n').ok, true);
});

test('an edit to any field, at any depth, is detected on its line', () => {
  const { lines } = makeLog(10);
  const edits: Array<[number, (r: Record<string, any>) => void]> = [
    [4, (r) => { r.ts = '2020-01-01T00:00:00.000Z'; }],
    [4, (r) => { r.session = 's-2'; }],
    [4, (r) => { r.statement.sql = 'SELECT 1'; }],
    [4, (r) => { r.actor.groups.push('admins'); }],
    [4, (r) => { r.decision.outcome = 'allowed'; }],
    [4, (r) => { r.masking.strategies.SSN = 'partial'; }],
    [4, (r) => { r.policy.generation = 4; }],
    [4, (r) => { r.decisionMs = 0.5; }],
    [4, (r) => { r.statement.tables = []; }],
    [5, (r) => { r.result.rows = 1; }],
    [5, (r) => { r.result.detectorHits.ssn = 1; }],
    [5, (r) => { delete r.durationMs; }],
    [4, (r) => { r.seq = 40; }],
    [4, (r) => { r.extra = 1; }],
  ];
  for (const [i, edit] of edits) {
    const v = verifyAuditLog(join(editLine(lines, i, edit)));
    assert.equal(v.ok, false, edit.toString());
    assert.equal(v.firstBreak!.line, i + 1, edit.toString());
    assert.match(v.firstBreak!.problem, /of stream gw-1 was edited: its hash does not match its content/, edit.toString());
  }
  const v = verifyAuditLog(join(editLine(lines, 4, (r) => { r.statement.sql = 'SELECT 1'; })));
  assert.equal(v.firstBreak!.problem, 'record seq 4 of stream gw-1 was edited: its hash does not match its content');
  assert.equal(v.firstBreak!.seq, 4);
  assert.equal(v.firstBreak!.stream, 'gw-1');
});

test('an edit with a recomputed hash breaks the link from the next record', () => {
  const { lines } = makeLog(10);
  const v = verifyAuditLog(join(editLine(lines, 4, (r) => { r.decision.outcome = 'allowed'; }, true)));
  assert.equal(v.ok, false);
  assert.equal(v.firstBreak!.line, 6);
  assert.match(v.firstBreak!.problem, /record seq 5 of stream gw-1 does not follow seq 4 \(line 5\): its prevHash is not that record's hash/);
});

test('a removed line is named as missing records', () => {
  const { lines } = makeLog(10);
  const removed = lines.filter((_, i) => i !== 5);
  const v = verifyAuditLog(join(removed));
  assert.equal(v.ok, false);
  assert.deepEqual(v.firstBreak, {
    line: 6, stream: 'gw-1', seq: 6,
    problem: 'record(s) missing between seq 4 and seq 6 of stream gw-1 (1 record removed)',
  });
});

test('two swapped lines are named as out of order, at the first of them', () => {
  const { lines } = makeLog(10);
  const swapped = [...lines];
  [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
  const v = verifyAuditLog(join(swapped));
  assert.equal(v.ok, false);
  assert.equal(v.firstBreak!.line, 4);
  assert.equal(v.firstBreak!.problem, 'records of stream gw-1 are out of order: seq 4 comes before seq 3 (line 5)');
});

test('a forged line with a recomputed hash but a wrong prevHash is detected on its line', () => {
  const { lines } = makeLog(10);
  const forged = JSON.parse(lines[4]!);
  forged.seq = 5;
  forged.statement.sql = 'SELECT * FROM patients';
  forged.hash = hashRecord(forged); // prevHash still points at seq 3
  const withForgery = [...lines.slice(0, 5), JSON.stringify(forged), ...lines.slice(5)];
  const v = verifyAuditLog(join(withForgery));
  assert.equal(v.ok, false);
  assert.equal(v.firstBreak!.line, 6);
  assert.match(v.firstBreak!.problem, /record seq 5 of stream gw-1 does not follow seq 4 \(line 5\)/);
});

test('a forged line that links correctly is found by the record that should follow it', () => {
  const { lines } = makeLog(10);
  const forged = JSON.parse(lines[5]!);
  forged.result.rows = 0;
  forged.hash = hashRecord(forged); // seq 5, prevHash = hash of seq 4: a perfect fork
  const withForgery = [...lines.slice(0, 5), JSON.stringify(forged), ...lines.slice(5)];
  const v = verifyAuditLog(join(withForgery));
  assert.equal(v.ok, false);
  assert.equal(v.firstBreak!.line, 6);
  assert.equal(v.firstBreak!.problem, 'record seq 5 of stream gw-1 on line 6 was inserted: the chain continues from another record with seq 5 (line 7)');
});

test('a duplicated line is named as a repeat', () => {
  const { lines } = makeLog(10);
  const v = verifyAuditLog(join([...lines.slice(0, 6), lines[5]!, ...lines.slice(6)]));
  assert.equal(v.firstBreak!.line, 7);
  assert.equal(v.firstBreak!.problem, 'record seq 5 of stream gw-1 appears again (first at line 6): a record was duplicated or inserted');
});

test('a seq gap and a seq repeat written by a (buggy) writer are detected even with valid hashes', () => {
  const { lines } = makeLog(6);
  const gap = editLine(lines, 5, (r) => { r.seq = 7; }, true);
  assert.equal(verifyAuditLog(join(gap)).firstBreak!.problem, 'record(s) missing between seq 4 and seq 7 of stream gw-1 (2 records removed)');
  const repeat = editLine(lines, 5, (r) => { r.seq = 4; }, true);
  const v = verifyAuditLog(join(repeat));
  assert.equal(v.firstBreak!.line, 6);
  assert.match(v.firstBreak!.problem, /record seq 4 of stream gw-1 appears again \(first at line 5\)/);
});

test('a first record with seq 0 must start from 64 zeros', () => {
  const { lines } = makeLog(3);
  const v = verifyAuditLog(join(editLine(lines, 0, (r) => { r.prevHash = 'a'.repeat(64); }, true)));
  assert.equal(v.firstBreak!.line, 1);
  assert.match(v.firstBreak!.problem, /should start the chain/);
});

test('a stream reused after a restart is named', () => {
  const a = makeLog(3).lines;
  const b = makeLog(2).lines;
  const v = verifyAuditLog(join([...a, ...b]));
  assert.equal(v.firstBreak!.line, 4);
  assert.match(v.firstBreak!.problem, /stream gw-1 starts again at seq 0: two writers used the same stream name/);
});

test('interleaved streams verify, and a break is named in its own stream', () => {
  const a = makeLog(20, 'gw-a').lines;
  const b = makeLog(20, 'gw-b').lines;
  const mixed: string[] = [];
  for (let i = 0; i < 20; i++) mixed.push(a[i]!, b[i]!);
  const v = verifyAuditLog(join(mixed));
  assert.equal(v.ok, true);
  assert.equal(v.records, 40);
  assert.equal(v.streams, 2);

  const broken = mixed.filter((l) => l !== b[7]); // b's seq 7 at line 16
  const w = verifyAuditLog(join(broken));
  assert.equal(w.ok, false);
  assert.deepEqual(w.firstBreak, {
    line: 17, stream: 'gw-b', seq: 8,
    problem: 'record(s) missing between seq 6 and seq 8 of stream gw-b (1 record removed)',
  });
  assert.equal(w.records, 39);
});

test('lines that are not audit records are skipped, with or without kubectl prefixes', () => {
  const { lines } = makeLog(6);
  const noisy = [
    'Starting phigate gateway',
    lines[0]!,
    '{"level":"info","message":"listening on 8443"}',
    `2026-11-24T10:00:00.000000000Z ${lines[1]!}`,
    '',
    `[pod/gw-1/gateway] ${lines[2]!}`,
    '{"kind":"Other","seq":1}',
    'not json {',
    lines[3]!,
    '{"message":"a note about \\"kind\\":\\"phigate.audit/v1\\""}',
    `${lines[4]!}\r`,
    lines[5]!,
  ];
  const v = verifyAuditLog(noisy.join('\n'));
  assert.equal(v.ok, true, JSON.stringify(v.firstBreak));
  assert.equal(v.records, 6);
});

test('a torn or malformed audit line is a break', () => {
  const { lines } = makeLog(4);
  const torn = [...lines.slice(0, 2), lines[2]!.slice(0, 80), ...lines.slice(2)];
  const v = verifyAuditLog(join(torn));
  assert.equal(v.firstBreak!.line, 3);
  assert.equal(v.firstBreak!.problem, 'line 3 looks like an audit record but is not valid JSON (cut off or edited)');

  const bad = editLine(lines, 2, (r) => { r.seq = -1; });
  const w = verifyAuditLog(join(bad));
  assert.equal(w.firstBreak!.line, 3);
  assert.equal(w.firstBreak!.problem, 'audit record on line 3 is malformed: seq is not a non-negative integer');
});

test('a log that starts mid-stream is a break by default: a removed first record looks the same', () => {
  const { lines } = makeLog(10);
  const v = verifyAuditLog(join(lines.slice(1)));
  assert.equal(v.ok, false);
  assert.match(v.firstBreak!.problem, /starts at seq 1, not 0: the first 1 record is missing/);
});

test('with allowTruncatedStart, a rotated log is accepted and reported as truncated', () => {
  const { lines } = makeLog(10);
  const v = verifyAuditLog(join(lines.slice(4)), { allowTruncatedStart: true });
  assert.equal(v.ok, true);
  assert.deepEqual(v.perStream[0], {
    stream: 'gw-1', records: 6, firstSeq: 4, lastSeq: 9, head: JSON.parse(lines[9]!).hash, truncatedStart: true,
  });
});

test('records written by one writer in any mix of events verify', () => {
  const { writer, lines } = capturingWriter('gw-9');
  for (let i = 0; i < 30; i++) {
    const s = writer.write(statement({ session: `s-${i % 3}`, http: undefined }));
    writer.write(result(s.id, { session: s.session }));
  }
  assert.equal(verifyAuditLog(lines.join('\n')).ok, true);
});

test('every single removal, swap, duplication and leaf edit inside a chain is detected', () => {
  const { lines } = makeLog(12);
  const last = lines.length - 1;
  const detected = (mutated: string[], what: string) =>
    assert.equal(verifyAuditLog(join(mutated)).ok, false, what);

  // Removing the last record looks like a cut end: see verify.ts.
  for (let i = 0; i < last; i++) detected(lines.filter((_, j) => j !== i), `remove ${i}`);
  for (let i = 0; i < last; i++) {
    const m = [...lines];
    [m[i], m[i + 1]] = [m[i + 1]!, m[i]!];
    detected(m, `swap ${i}`);
  }
  for (let i = 0; i <= last; i++) detected([...lines.slice(0, i + 1), ...lines.slice(i)], `duplicate ${i}`);

  const leafPaths = (v: unknown, path: string[] = []): string[][] =>
    v !== null && typeof v === 'object'
      ? Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, k]))
      : [path];
  let edits = 0;
  for (let i = 0; i <= last; i++) {
    for (const path of leafPaths(JSON.parse(lines[i]!)).filter((p) => p[0] !== 'hash')) {
      for (const rehash of [false, true]) {
        // A rehashed edit of the last record has nothing after it to break; see verify.ts.
        if (rehash && i === last) continue;
        const mutated = editLine(lines, i, (r) => {
          let o = r;
          for (const k of path.slice(0, -1)) o = o[k];
          const k = path.at(-1)!;
          o[k] = typeof o[k] === 'number' ? o[k] + 1 : typeof o[k] === 'string' ? `${o[k]}x` : o[k] === null ? 'x' : !o[k];
        }, rehash);
        edits += 1;
        if (rehash && i === 0 && path.join('.') === 'stream') {
          // Re-signed into a stream of its own, seq 0 is indistinguishable from a genuine
          // one-record stream (a chain has no outside anchor); what shows is gw-1's cut start.
          const v = verifyAuditLog(join(mutated));
          assert.equal(v.ok, false);
          assert.match(v.firstBreak!.problem, /stream gw-1 starts at seq 1/);
          continue;
        }
        detected(mutated, `edit line ${i} ${path.join('.')} rehash=${rehash}`);
      }
    }
  }
  assert.ok(edits > 400, `only ${edits} edits tried`);
});

test('a record of another audit version is not skipped silently', () => {
  const { lines } = makeLog(3);
  const v = verifyAuditLog(join(editLine(lines, 2, (r) => { r.kind = 'phigate.audit/v2'; })));
  assert.equal(v.firstBreak!.line, 3);
  assert.equal(v.firstBreak!.problem, 'audit record on line 3 is malformed: kind "phigate.audit/v2" is not phigate.audit/v1, which this version reads');
});
