// Shared test helpers for the masking detectors.
import type { DetectorName } from '../../../src/api/types.ts';
import { DETECTORS, inPrecedenceOrder } from '../../../src/masking/detectors.ts';

/** Validated JS matches of one detector, on a fresh copy of its pattern. */
export function jsMatches(name: DetectorName, text: string): string[] {
  const d = DETECTORS[name];
  const re = new RegExp(d.pattern.source, d.pattern.flags);
  const out: string[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (d.validate === undefined || d.validate(m[0])) out.push(m[0]);
    else re.lastIndex = m.index + 1;
  }
  return out;
}

/** What REGEXP_REPLACE(text, sqlPattern, replacement, 'g') does, run by the JS engine. */
export function sqlScrub(text: string, names: readonly DetectorName[]): string {
  let out = text;
  for (const name of inPrecedenceOrder(names)) {
    out = out.replace(new RegExp(DETECTORS[name].sqlPattern, 'g'), DETECTORS[name].replacement);
  }
  return out;
}

/** Problems with a sqlPattern outside the RE2 / POSIX ERE common subset; [] when none. */
export function subsetProblems(p: string): string[] {
  const problems: string[] = [];
  if (p.includes('\\')) problems.push('backslash');
  if (p.includes("'")) problems.push('single quote');
  let depth = 0;
  // What the previous token was: 'start' | 'atom' (literal, class, ')') | 'quant' | 'open' | 'alt'
  let prev: 'start' | 'atom' | 'quant' | 'open' | 'alt' = 'start';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '[') {
      const end = p.indexOf(']', i + 1);
      if (end < 0) { problems.push(`unterminated class at ${i}`); break; }
      let body = p.slice(i + 1, end);
      if (body.startsWith('^')) body = body.slice(1);
      if (body === '') problems.push(`empty class at ${i}`);
      if (body.includes('[')) problems.push(`'[' inside class at ${i} (POSIX classes / JS differ)`);
      // ranges: only a-z, A-Z, 0-9 style within one kind; '-' only first or last
      for (let j = 1; j < body.length - 1; j++) {
        if (body[j] !== '-') continue;
        const a = body[j - 1]!, b = body[j + 1]!;
        const kind = (c: string) => (/[a-z]/.test(c) ? 'l' : /[A-Z]/.test(c) ? 'u' : /[0-9]/.test(c) ? 'd' : 'x');
        if (kind(a) === 'x' || kind(a) !== kind(b) || a > b) problems.push(`odd range ${a}-${b} at ${i}`);
        j++;
      }
      i = end;
      prev = 'atom';
      continue;
    }
    if (ch === '(') {
      if (p[i + 1] === '?') problems.push(`(? construct at ${i}`);
      if (p[i + 1] === ')' || p[i + 1] === '|') problems.push(`empty alternative at ${i}`);
      depth++;
      prev = 'open';
      continue;
    }
    if (ch === ')') {
      if (depth === 0) problems.push(`unbalanced ) at ${i}`);
      if (prev === 'alt' || prev === 'open') problems.push(`empty alternative at ${i}`);
      depth--;
      prev = 'atom';
      continue;
    }
    if (ch === '|') {
      if (prev === 'alt' || prev === 'open' || prev === 'start') problems.push(`empty alternative at ${i}`);
      prev = 'alt';
      continue;
    }
    if (ch === '?' || ch === '*' || ch === '+' || ch === '{') {
      if (prev !== 'atom') problems.push(`quantifier '${ch}' after ${prev} at ${i} (lazy/possessive/stacked?)`);
      if (ch === '{') {
        const m = /^\{(\d+)(,(\d+)?)?\}/.exec(p.slice(i));
        if (m === null) { problems.push(`bad interval at ${i}`); continue; }
        if (m[3] !== undefined && Number(m[3]) < Number(m[1])) problems.push(`bad interval at ${i}`);
        i += m[0].length - 1;
      }
      prev = 'quant';
      continue;
    }
    if (ch === ']' || ch === '}') problems.push(`bare '${ch}' at ${i}`);
    // '.', '^', '$' are legal but their newline semantics differ between engines: not used.
    if (ch === '.' || ch === '^' || ch === '$') problems.push(`'${ch}' outside a class at ${i}`);
    prev = 'atom';
  }
  if (depth !== 0) problems.push('unbalanced (');
  if (prev === 'alt') problems.push('trailing |');
  return problems;
}

