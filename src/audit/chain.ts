// The hash chain. Each record's `hash` covers its whole content including `prevHash`, so
// editing, removing, reordering or inserting a record breaks the chain of its stream.

import { createHash } from 'node:crypto';

export { GENESIS_HASH } from './record.ts';

/**
 * Canonical JSON, the exact text that is hashed:
 *  - null, true, false: as in JSON.
 *  - number: finite only, written as ECMAScript Number-to-String does (JSON.stringify),
 *    so 1, 0.4, 1e+21; -0 is written 0. NaN and Infinity are rejected.
 *  - string: JSON.stringify(string): `"` and `\` escaped, U+0000..U+001F as \b \t \n \f \r
 *    or \u00XX (lowercase hex), lone surrogates as \uDXXX, everything else literal.
 *  - array: `[` elements joined by `,` `]`; an undefined element is rejected.
 *  - object (plain): `{` "key":value pairs joined by `,` `}`, keys sorted by UTF-16 code
 *    units (Array.prototype.sort), properties whose value is undefined left out (as
 *    JSON.stringify does, so optional fields hash the same before and after a round trip).
 *  - no whitespace anywhere. Anything else (bigint, function, symbol, Date, Map, ...) is rejected.
 * The hash is SHA-256 of the UTF-8 bytes of that text. For the values audit records hold this
 * is RFC 8785 (JCS), and canonicalJson(x) === canonicalJson(JSON.parse(JSON.stringify(x))),
 * which is what lets `verify` recompute a hash from a logged line.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => {
      if (item === undefined) throw new TypeError(`canonical JSON: array element ${i} is undefined`);
      return canonicalJson(item);
    }).join(',')}]`;
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  throw new TypeError(`canonical JSON: cannot encode a value of type ${describe(value)}`);
}

/**
 * Hex SHA-256 of the canonical JSON of `record` without its `hash` property (present or not,
 * it is left out, so a parsed log line can be passed as is).
 */
export function hashRecord(record: object): string {
  const { hash: _ignored, ...rest } = record as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

/** True for a string that can be a record hash: 64 lowercase hex digits. */
export function isHash(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return typeof value;
  return value.constructor?.name ?? 'object';
}
