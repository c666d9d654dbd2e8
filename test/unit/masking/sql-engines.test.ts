// The sqlPatterns run by real engines: DuckDB's REGEXP_REPLACE (RE2, leftmost-first) and GNU
// sed in --posix ERE mode (leftmost-longest, the semantics Snowflake's POSIX regexes follow).
// Both must scrub every true positive, and agree with the JS engine on what they produce.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { DetectorName } from '../../../src/api/types.ts';
import { ALL_DETECTORS, DETECTORS } from '../../../src/masking/detectors.ts';
import { FALSE_POSITIVES, TRUE_POSITIVES } from './cases.ts';
import { sqlScrub } from './helpers.ts';

const SAMPLES: string[] = [
  ...ALL_DETECTORS.flatMap((n) => TRUE_POSITIVES[n].map((c) => c.text)),
  ...ALL_DETECTORS.flatMap((n) => FALSE_POSITIVES[n]),
  'Call 555-123-4567 or email jane@example.org today; DOB Jan 31, 2024, MRN-12345678, IL 62704.',
];

/** Nested REGEXP_REPLACE in precedence order (first detector innermost), as an adapter would. */
function chainSql(names: readonly DetectorName[], arg: string): string {
  let expr = arg;
  for (const n of ALL_DETECTORS) {
    if (!names.includes(n)) continue;
    const d = DETECTORS[n];
    expr = `regexp_replace(${expr}, '${d.sqlPattern}', '${d.replacement}', 'g')`;
  }
  return expr;
}

describe('DuckDB REGEXP_REPLACE (RE2)', () => {
  let conn: DuckDBConnection;
  before(async () => {
    conn = await (await DuckDBInstance.create(':memory:')).connect();
  });
  after(() => conn.closeSync());

  async function duck(text: string, names: readonly DetectorName[]): Promise<string> {
    const r = await conn.runAndReadAll(`SELECT ${chainSql(names, '$1')} AS x`, [text]);
    return String(r.getRowObjects()[0]!.x);
  }

  it('accepts every pattern embedded in a string literal', async () => {
    for (const n of ALL_DETECTORS) await duck('x', [n]);
  });

  it('scrubs every true positive, exactly as the JS engine does', async () => {
    for (const n of ALL_DETECTORS) {
      for (const c of TRUE_POSITIVES[n]) {
        const out = await duck(c.text, [n]);
        assert.ok(!out.includes(c.value), `${n}: ${c.text} -> ${out}`);
        assert.equal(out, sqlScrub(c.text, [n]), `${n}: ${c.text}`);
      }
    }
  });

  it('agrees with the JS engine on the full chain over samples and random mixes', async () => {
    for (const s of SAMPLES) assert.equal(await duck(s, ALL_DETECTORS), sqlScrub(s, ALL_DETECTORS), s);
    const mixes = fc.sample(fc.array(fc.constantFrom(...SAMPLES, ' ', '', ':', '-', '1'), { maxLength: 6 })
      .map((a) => a.join('')), { numRuns: 300, seed: 42 });
    for (const s of mixes) assert.equal(await duck(s, ALL_DETECTORS), sqlScrub(s, ALL_DETECTORS), s);
  });
});

const hasSed = spawnSync('sed', ['--posix', '-E', 's/a/b/'], { input: 'a' }).status === 0;

describe('POSIX ERE (GNU sed --posix -E, leftmost-longest)', { skip: !hasSed && 'GNU sed not available' }, () => {
  /** One sed run per detector over all lines; sed is line-based, so LF is dropped from classes. */
  function sed(lines: string[], names: readonly DetectorName[]): string[] {
    let out = lines;
    for (const n of ALL_DETECTORS) {
      if (!names.includes(n)) continue;
      const d = DETECTORS[n];
      const script = `s\x01${d.sqlPattern.replaceAll('\n', '')}\x01${d.replacement}\x01g`;
      const r = spawnSync('sed', ['--posix', '-E', '-e', script], {
        input: out.join('\n') + '\n', encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' },
      });
      assert.equal(r.status, 0, `${n}: ${r.stderr}`);
      out = r.stdout.replace(/\n$/, '').split('\n');
    }
    return out;
  }

  it('scrubs every true positive', () => {
    for (const n of ALL_DETECTORS) {
      const cases = TRUE_POSITIVES[n].filter((c) => !c.text.includes('\n'));
      const out = sed(cases.map((c) => c.text), [n]);
      cases.forEach((c, i) => {
        assert.ok(!out[i]!.includes(c.value), `${n}: ${c.text} -> ${out[i]}`);
        assert.equal(out[i], sqlScrub(c.text, [n]), `${n}: ${c.text}`);
      });
    }
  });

  it('agrees with the JS engine on the full chain over the samples', () => {
    const lines = SAMPLES.filter((s) => !s.includes('\n'));
    const out = sed(lines, ALL_DETECTORS);
    lines.forEach((s, i) => assert.equal(out[i], sqlScrub(s, ALL_DETECTORS), s));
  });
});
