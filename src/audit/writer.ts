// Writes audit records, one JSON line each, to stdout through winston, and keeps the chain.
//
// The design's two promises: a record is on stdout before write() returns (the caller sends no
// data until then), and a record that cannot be written makes write() throw (the caller fails
// the statement). Winston's Logger is a stream pipeline (Transform piped into each transport),
// which can hold a record back instead of delivering it: when a transport's Writable is still
// busy, or buffers past its highWaterMark, the record waits in a buffer and logger.log()
// returns normally (tested: a transport that throws from log() leaves its Writable "writing",
// and every later record then sits in a buffer, silently). With a transport that writes and
// calls back synchronously, delivery is synchronous, from the first record in the same tick
// (readable-stream 3's Transform starts with sync=false, and the pipe to the transport flows
// from construction). write() does not take that on trust: it checks that the transport
// received this very record and wrote it, and throws AuditWriteError otherwise. A record held
// back and delivered later is dropped by the transport, so it cannot fork the chain.

import { randomBytes, randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import winston from 'winston';
import Transport from 'winston-transport';
import { hashRecord } from './chain.ts';
import { AUDIT_KIND, GENESIS_HASH } from './record.ts';
import type { AuditInput, AuditRecordV1 } from './record.ts';

export type LineSink = (line: string) => void;

export interface AuditWriterOptions {
  /** Name of this writer's chain; unique per process lifetime (see defaultStreamName). */
  stream: string;
  /** Where a line goes (without newline); default: stdout with fs.writeSync. May throw. */
  sink?: LineSink;
  /** Time is an input, so tests and replays are exact. */
  clock?: () => Date;
  newId?: () => string;
}

/** The record was not written; the caller must fail the statement it describes. */
export class AuditWriteError extends Error {
  override readonly name = 'AuditWriteError';
  constructor(
    message: string,
    readonly stream: string,
    readonly seq: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A stream name that does not repeat when the container restarts: the pod name (hostname)
 * stays and the pid is usually 1 again, so a random suffix keeps two processes' chains apart.
 */
export function defaultStreamName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export class AuditWriter {
  readonly stream: string;
  #seq = 0;
  #prevHash = GENESIS_HASH;
  readonly #transport: SyncLineTransport;
  readonly #logger: winston.Logger;
  readonly #clock: () => Date;
  readonly #newId: () => string;

  constructor(options: AuditWriterOptions) {
    if (typeof options.stream !== 'string' || options.stream.trim() === '') {
      throw new TypeError('AuditWriter: stream must be a non-empty string');
    }
    this.stream = options.stream;
    this.#clock = options.clock ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
    this.#transport = new SyncLineTransport(options.sink ?? stdoutSink());
    this.#logger = winston.createLogger({
      level: 'info',
      // Pass the info object through untouched: the line is already serialised.
      format: winston.format((info) => info)(),
      transports: [this.#transport],
    });
    // The stream machinery may emit 'error'; with no listener that would crash the process.
    // Non-delivery is caught by the check in write(), so the event only needs noting.
    this.#logger.on('error', (err: unknown) => this.#transport.noteStreamError(err));
  }

  /** seq the next record will get. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** hash of the last record written (64 zeros before the first). */
  get head(): string {
    return this.#prevHash;
  }

  /** Fill in the chain fields, write the record as one line, and return it. Throws AuditWriteError. */
  write(input: AuditInput): AuditRecordV1 {
    const seq = this.#seq;
    let line: string;
    let record: AuditRecordV1;
    try {
      record = this.#build(input, seq);
      line = JSON.stringify(record);
    } catch (err) {
      throw new AuditWriteError(`audit record seq ${seq} of stream ${this.stream} could not be encoded: ${message(err)}`, this.stream, seq, { cause: err });
    }

    const delivery: Delivery = { seq, line, written: false };
    this.#transport.expect(delivery);
    try {
      this.#logger.log({ level: 'info', message: line, [DELIVERY]: delivery });
    } catch (err) {
      delivery.error ??= err;
    } finally {
      this.#transport.expect(undefined);
    }
    if (!delivery.written) {
      const why = delivery.error !== undefined
        ? message(delivery.error)
        : 'winston did not deliver it to the transport synchronously';
      throw new AuditWriteError(`audit record seq ${seq} of stream ${this.stream} was not written: ${why}`, this.stream, seq, { cause: delivery.error });
    }
    // Only a written line moves the chain on.
    this.#seq = seq + 1;
    this.#prevHash = record.hash;
    return record;
  }

  #build(input: AuditInput, seq: number): AuditRecordV1 {
    const { id, event, ...rest } = input;
    const ts = this.#clock().toISOString();
    const filled = { ts, kind: AUDIT_KIND, event, id: id ?? this.#newId(), stream: this.stream, seq, prevHash: this.#prevHash };
    // Key order is for people reading the log (as in DESIGN.md); the hash does not depend on it.
    const record = { ...filled, hash: '', ...rest } as AuditRecordV1;
    Object.assign(record, filled); // the writer's fields win over anything smuggled in `rest`
    // Throws (TypeError) on a value that would not survive the JSON round trip verify relies on.
    record.hash = hashRecord(record);
    return record;
  }
}

const DELIVERY = Symbol('phigate.audit.delivery');

interface Delivery {
  readonly seq: number;
  readonly line: string;
  written: boolean;
  error?: unknown;
}

/**
 * Writes each delivered record with the sink, synchronously, and reports back on the
 * Delivery object. It never throws and never passes an error to the callback: a throw leaves
 * the Writable stuck "writing" (every later record then sits in a buffer, silently), and an
 * error callback emits 'error' on the transport and the logger.
 */
class SyncLineTransport extends Transport {
  #awaiting: Delivery | undefined;

  constructor(private readonly sink: LineSink) {
    super({ level: 'info' });
  }

  expect(delivery: Delivery | undefined): void {
    this.#awaiting = delivery;
  }

  noteStreamError(err: unknown): void {
    if (this.#awaiting) this.#awaiting.error ??= err;
  }

  override log(info: { [DELIVERY]?: Delivery }, next: () => void): void {
    const delivery = info[DELIVERY];
    // Write only the record write() is waiting for right now. One held back and released
    // later has already been reported as not written; writing it would fork the chain.
    if (delivery !== undefined && delivery === this.#awaiting) {
      try {
        this.sink(delivery.line);
        delivery.written = true;
      } catch (err) {
        delivery.error = err;
      }
    }
    next();
  }
}

const EAGAIN_RETRIES = 50;
const EAGAIN_MAX_SLEEP_MS = 20;

/**
 * fs.writeSync to fd 1, the whole line or an exception. Node puts a pipe on fd 1 in
 * non-blocking mode once process.stdout is used, so a full pipe gives EAGAIN (or a short
 * write): retry with a short blocking sleep, a bounded number of times (about 1 s in all).
 * If a line was cut off part-way, the next one starts with a newline so it stays whole.
 */
export function stdoutSink(fd = 1): LineSink {
  let torn = false;
  return (line: string) => {
    const prefix = torn ? 1 : 0;
    const bytes = Buffer.from(`${torn ? '\n' : ''}${line}\n`, 'utf8');
    let offset = 0;
    let retries = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(fd, bytes, offset, bytes.length - offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && retries < EAGAIN_RETRIES) {
          retries += 1;
          sleepSync(Math.min(2 ** retries, EAGAIN_MAX_SLEEP_MS));
          continue;
        }
        torn = offset > prefix || (torn && offset === 0);
        throw err;
      }
    }
    torn = false;
  };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
