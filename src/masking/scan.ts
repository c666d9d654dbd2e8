// The gateway's second masking layer: scrub every text cell of a result with the value
// detectors (src/masking/detectors.ts). Runs on every text cell of every result, so the common
// case (nothing to find) costs one character-class test and allocates nothing.

import type { DetectorName } from '../api/types.ts';
import { ALL_DETECTORS, DETECTORS } from './detectors.ts';

type Hits = Partial<Record<DetectorName, number>>;

interface Compiled {
  name: DetectorName;
  bit: number;
  /** Private copy of the detector's global RegExp, so callers using DETECTORS[..].pattern
   *  (and its lastIndex) cannot interfere with the scan. */
  re: RegExp;
  replacement: string;
  validate: ((match: string) => boolean) | undefined;
  /** A substring every match contains, to skip the regex cheaply; '' when none. */
  needs: string;
}

const NEEDS: Partial<Record<DetectorName, string>> = { url: '://', email: '@' };

/** Precompiled, in precedence order. */
const COMPILED: Compiled[] = ALL_DETECTORS.map((name, i) => {
  const d = DETECTORS[name];
  return {
    name,
    bit: 1 << i,
    re: new RegExp(d.pattern.source, d.pattern.flags.includes('g') ? d.pattern.flags : d.pattern.flags + 'g'),
    replacement: d.replacement,
    validate: d.validate?.bind(d),
    needs: NEEDS[name] ?? '',
  };
});
const BIT = Object.fromEntries(COMPILED.map((c) => [c.name, c.bit])) as Record<DetectorName, number>;

/** Every match of every detector contains a digit, '@' or ':' (url needs '://', IPv6 ':'). */
const TRIGGER = /[0-9@:]/;

const EMPTY_HITS: Hits = Object.freeze({});

function maskOf(detectors: readonly DetectorName[]): number {
  let mask = 0;
  for (let i = 0; i < detectors.length; i++) mask |= BIT[detectors[i]!] ?? 0;
  return mask;
}

/** Replaces every validated match of one detector; returns `text` itself when none. */
function replaceAll(c: Compiled, text: string, counts: { n: number }): string {
  if (c.needs !== '' && !text.includes(c.needs)) return text;
  const re = c.re;
  re.lastIndex = 0;
  let out = '';
  let last = 0;
  let n = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const s = m[0];
    if (s.length === 0) { re.lastIndex++; continue; }
    if (c.validate !== undefined && !c.validate(s)) {
      // Retry from the next character: a rejected candidate (e.g. an invalid IPv6 ending in a
      // valid IPv4) may contain a valid match that starts later.
      re.lastIndex = m.index + 1;
      continue;
    }
    out += text.slice(last, m.index) + c.replacement;
    last = m.index + s.length;
    n++;
  }
  if (n === 0) return text;
  counts.n = n;
  return out + text.slice(last);
}

const scratch = { n: 0 };

/**
 * Scrubs `text` with the given detectors (applied in precedence order, whatever the order of
 * `detectors`), adding the number of replaced spans to `hits`. Returns `text` itself when
 * nothing matched; allocates nothing in that case.
 */
export function scrubInto(text: string, detectors: readonly DetectorName[], hits?: DetectorHits): string {
  if (text.length < 3 || !TRIGGER.test(text)) return text;
  const mask = maskOf(detectors);
  let out = text;
  // Repeat until a pass changes nothing, so the output provably holds no match of any selected
  // detector (removing a span can join its neighbours into a new match). Terminates: every hit
  // removes at least one of [0-9@:] and replacements contain none.
  for (;;) {
    let changed = false;
    for (let i = 0; i < COMPILED.length; i++) {
      const c = COMPILED[i]!;
      if ((mask & c.bit) === 0) continue;
      const next = replaceAll(c, out, scratch);
      if (next !== out) {
        out = next;
        changed = true;
        hits?.add(c.name, scratch.n);
      }
    }
    if (!changed) return out;
  }
}

/**
 * Replaces each detected span in `text` with its detector's replacement, keeping the rest.
 * When nothing matched, `text` is returned as the same string and `hits` is a shared, frozen
 * empty object (do not mutate it).
 */
export function scrubText(text: string, detectors: DetectorName[]): { text: string; hits: Hits } {
  if (text.length < 3 || !TRIGGER.test(text)) return { text, hits: EMPTY_HITS };
  const counter = new DetectorHits();
  const out = scrubInto(text, detectors, counter);
  return { text: out, hits: out === text ? EMPTY_HITS : counter.toJSON() };
}

/** Count of replaced spans per detector, e.g. for the audit record's `detectorHits`. */
export class DetectorHits {
  private readonly counts: Hits = {};

  add(name: DetectorName, n = 1): this {
    if (n > 0) this.counts[name] = (this.counts[name] ?? 0) + n;
    return this;
  }

  /** Adds another counter's (or a plain `hits` record's) counts to this one. */
  merge(other: DetectorHits | Hits): this {
    const src = other instanceof DetectorHits ? other.counts : other;
    for (const name of ALL_DETECTORS) {
      const n = src[name];
      if (n !== undefined) this.add(name, n);
    }
    return this;
  }

  get(name: DetectorName): number {
    return this.counts[name] ?? 0;
  }

  get total(): number {
    let t = 0;
    for (const name of ALL_DETECTORS) t += this.counts[name] ?? 0;
    return t;
  }

  isEmpty(): boolean {
    return this.total === 0;
  }

  /** Non-zero counts only, keys in precedence order (stable for hashing/audit). */
  toJSON(): Hits {
    const out: Hits = {};
    for (const name of ALL_DETECTORS) {
      const n = this.counts[name];
      if (n !== undefined && n > 0) out[name] = n;
    }
    return out;
  }
}
