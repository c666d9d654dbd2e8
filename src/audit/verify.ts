// `phigate audit verify`: checks every stream's hash chain in a log and names the first break.
//
// What a chain proves: no record in the middle of a stream was edited, removed, reordered or
// inserted. What it cannot prove alone: that records were not cut from a stream's end, or
// that a whole stream is genuine; that needs each stream's last hash (`head`) kept elsewhere.

import { hashRecord } from './chain.ts';
import { parseAuditLog } from './parse.ts';
import { GENESIS_HASH } from './record.ts';
import type { AuditRecordV1 } from './record.ts';

export interface ChainBreak {
  /** 1-based line of the input where the problem shows. */
  line: number;
  stream?: string;
  seq?: number;
  /** What is wrong, in words. */
  problem: string;
}

export interface StreamSummary {
  stream: string;
  records: number;
  firstSeq: number;
  lastSeq: number;
  /** hash of the stream's last record: compare with a copy kept elsewhere to detect a cut end. */
  head: string;
  /** The stream's first record is not seq 0 (log rotated, or the log starts mid-stream). */
  truncatedStart: boolean;
}

export interface VerifyResult {
  ok: boolean;
  /** Audit records in the input (every one, also after a break). */
  records: number;
  streams: number;
  firstBreak?: ChainBreak;
  perStream: StreamSummary[];
}

interface Seen { line: number; record: AuditRecordV1 }

export interface VerifyOptions {
  /**
   * Accept a stream whose first record in the log has seq > 0 (a rotated log). Off by default:
   * a removed first record looks exactly like that, so an auditor must ask for it.
   */
  allowTruncatedStart?: boolean;
}

export function verifyAuditLog(text: string, options: VerifyOptions = {}): VerifyResult {
  const parsed = parseAuditLog(text);
  const byStream = indexByStream(parsed.flatMap((p) => ('record' in p ? [p] : [])));
  const last = new Map<string, Seen>();
  const summaries = new Map<string, StreamSummary>();
  let records = 0;
  let firstBreak: ChainBreak | undefined;

  for (const p of parsed) {
    if (!('record' in p)) {
      firstBreak ??= { line: p.line, stream: p.stream, seq: p.seq, problem: p.malformed };
      continue;
    }
    const { line, record } = p;
    records += 1;
    summarise(summaries, record);
    if (firstBreak) continue; // counting only: after the first break, state means nothing
    const problem = check(line, record, last.get(record.stream), byStream.get(record.stream)!, options);
    if (problem) {
      firstBreak = { line: problem.line ?? line, stream: record.stream, seq: record.seq, problem: problem.text };
    }
    last.set(record.stream, { line, record });
  }

  const perStream = [...summaries.values()];
  return { ok: firstBreak === undefined, records, streams: perStream.length, firstBreak, perStream };
}

/** The problem with `record` given the stream's previous record, or undefined. */
function check(
  line: number,
  record: AuditRecordV1,
  prev: Seen | undefined,
  stream: Map<number, Seen[]>,
  options: VerifyOptions,
): { text: string; line?: number } | undefined {
  const { seq, stream: name } = record;
  const what = `record seq ${seq} of stream ${name}`;
  if (hashRecord(record) !== record.hash) {
    return { text: `${what} was edited: its hash does not match its content` };
  }
  if (prev === undefined) {
    if (seq === 0 && record.prevHash !== GENESIS_HASH) {
      return { text: `${what} should start the chain (prevHash of 64 zeros) but points at an earlier record: it was forged or edited` };
    }
    if (seq > 0 && !options.allowTruncatedStart) {
      return { text: `stream ${name} starts at seq ${seq}, not 0: the first ${seq} record${seq === 1 ? ' is' : 's are'} missing (removed, or the log was rotated: pass --allow-truncated-start for a log that starts mid-stream)` };
    }
    return undefined; // seq > 0 allowed: the log starts mid-stream; its prevHash is the anchor
  }

  const prevSeq = prev.record.seq;
  if (seq === prevSeq + 1) {
    if (record.prevHash === prev.record.hash) return undefined;
    return { text: `${what} does not follow seq ${prevSeq} (line ${prev.line}): its prevHash is not that record's hash, so a record was replaced or inserted` };
  }
  if (seq > prevSeq + 1) {
    const later = firstLater(stream, prevSeq + 1, seq - 1, line);
    if (later) {
      return { text: `records of stream ${name} are out of order: seq ${seq} comes before seq ${later.record.seq} (line ${later.line})` };
    }
    const n = seq - prevSeq - 1;
    return { text: `record(s) missing between seq ${prevSeq} and seq ${seq} of stream ${name} (${n} record${n === 1 ? '' : 's'} removed)` };
  }

  // seq <= prevSeq: seen before, or out of order.
  const earlier = stream.get(seq)?.find((s) => s.line < line);
  if (earlier === undefined) {
    return { text: `records of stream ${name} are out of order: seq ${seq} comes after seq ${prevSeq} (line ${prev.line})` };
  }
  if (seq === 0 && record.prevHash === GENESIS_HASH) {
    return { text: `stream ${name} starts again at seq 0: two writers used the same stream name, or records were duplicated (first seq 0 at line ${earlier.line})` };
  }
  // Two records with one seq: the one the next record links to is the real one.
  const successor = stream.get(seq + 1)?.find((s) => s.line > line);
  if (successor && successor.record.prevHash === record.hash && earlier.record.hash !== record.hash) {
    return {
      line: earlier.line,
      text: `record seq ${seq} of stream ${name} on line ${earlier.line} was inserted: the chain continues from another record with seq ${seq} (line ${line})`,
    };
  }
  return { text: `${what} appears again (first at line ${earlier.line}): a record was duplicated or inserted` };
}

/** The earliest-in-log record after `line` with a seq in [from, to]. */
function firstLater(stream: Map<number, Seen[]>, from: number, to: number, line: number): Seen | undefined {
  let best: Seen | undefined;
  // Bounded by what is in the log, not by the size of the gap.
  for (const [seq, seen] of stream) {
    if (seq < from || seq > to) continue;
    for (const s of seen) if (s.line > line && (!best || s.line < best.line)) best = s;
  }
  return best;
}

function indexByStream(seen: Seen[]): Map<string, Map<number, Seen[]>> {
  const index = new Map<string, Map<number, Seen[]>>();
  for (const s of seen) {
    let bySeq = index.get(s.record.stream);
    if (!bySeq) index.set(s.record.stream, (bySeq = new Map()));
    const list = bySeq.get(s.record.seq);
    if (list) list.push(s); else bySeq.set(s.record.seq, [s]);
  }
  return index;
}

function summarise(summaries: Map<string, StreamSummary>, record: AuditRecordV1): void {
  const s = summaries.get(record.stream);
  if (!s) {
    summaries.set(record.stream, {
      stream: record.stream,
      records: 1,
      firstSeq: record.seq,
      lastSeq: record.seq,
      head: record.hash,
      truncatedStart: record.seq > 0,
    });
    return;
  }
  s.records += 1;
  s.lastSeq = record.seq;
  s.head = record.hash;
}
