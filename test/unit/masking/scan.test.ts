import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DetectorName } from '../../../src/api/types.ts';
import { ALL_DETECTORS } from '../../../src/masking/detectors.ts';
import { DetectorHits, scrubInto, scrubText } from '../../../src/masking/scan.ts';
import { FALSE_POSITIVES, TRUE_POSITIVES } from './cases.ts';
import { jsMatches, sqlScrub } from './helpers.ts';

describe('fast path', () => {
  it('returns the input and a shared empty hits object when nothing matches', () => {
    for (const text of ['', 'ab', 'no digits at all here', 'budget 2024: 12 items, ratio 3/4', 'x@y', 'a:b']) {
      const r1 = scrubText(text, ALL_DETECTORS);
      const r2 = scrubText(text, ALL_DETECTORS);
      assert.ok(Object.is(r1.text, text));
      assert.deepEqual(r1.hits, {});
      assert.ok(r1.hits === r2.hits, 'hits object is shared, not allocated per call');
    }
  });

  it('scrubInto returns the same string and leaves hits untouched', () => {
    const hits = new DetectorHits();
    const text = 'lab result 12.5 mg/dL at 08:30';
    assert.ok(Object.is(scrubInto(text, ALL_DETECTORS, hits), text));
    assert.deepEqual(hits.toJSON(), {});
  });

  it('with no detectors selected nothing changes', () => {
    const text = 'SSN 123-45-6789';
    assert.ok(Object.is(scrubText(text, []).text, text));
  });
});

describe('DetectorHits', () => {
  it('adds, merges and serialises in precedence order', () => {
    const a = new DetectorHits().add('zip').add('ssn', 2);
    const b = new DetectorHits().add('ssn').add('url', 3).add('phone', 0);
    a.merge(b).merge({ email: 1 });
    assert.deepEqual(a.toJSON(), { url: 3, email: 1, ssn: 3, zip: 1 });
    assert.deepEqual(Object.keys(a.toJSON()), ['url', 'email', 'ssn', 'zip']);
    assert.equal(a.get('ssn'), 3);
    assert.equal(a.get('ip'), 0);
    assert.equal(a.total, 8);
    assert.equal(a.isEmpty(), false);
    assert.equal(new DetectorHits().isEmpty(), true);
    assert.equal(JSON.stringify({ detectorHits: a }), '{"detectorHits":{"url":3,"email":1,"ssn":3,"zip":1}}');
  });

  it('accumulates across cells via scrubInto', () => {
    const hits = new DetectorHits();
    const cells = ['SSN 123-45-6789', 'nothing', 'jane@example.org and 555-123-4567', 'SSN: 234567890'];
    const out = cells.map((c) => scrubInto(c, ALL_DETECTORS, hits));
    assert.deepEqual(out, ['SSN [SSN]', 'nothing', '[EMAIL] and [PHONE]', 'SSN: [SSN]']);
    assert.deepEqual(hits.toJSON(), { email: 1, ssn: 2, phone: 1 });
  });
});

// Texts built from the TP/FP fragments, joined by separators (or nothing), so that values end
// up next to each other, inside each other's labels, and glued to digits and letters.
const fragments = [
  ...ALL_DETECTORS.flatMap((n) => TRUE_POSITIVES[n].map((c) => c.text)),
  ...ALL_DETECTORS.flatMap((n) => FALSE_POSITIVES[n]),
  'SSN', 'MRN', 'ZIP', 'IL', 'CA', 'Phone:', 'tel', 'Jan', 'March', 'https://', '@', ':', '::',
  '.', '-', '/', '(', ')', '[SSN]', '[ZIP]', '1', '12', '2024', 'x',
];
const textArb = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fragments) },
    { weight: 2, arbitrary: fc.stringMatching(/^[0-9 .:\-/@a-fA-FA-Z]{0,12}$/) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  ),
  { maxLength: 8 },
).chain((parts) => fc.array(fc.constantFrom('', ' ', ', ', '-', '.', ':', '\n', '/'), {
  minLength: parts.length, maxLength: parts.length,
}).map((seps) => parts.map((p, i) => p + seps[i]).join('')));
const detectorsArb = fc.subarray(ALL_DETECTORS);

describe('properties', () => {
  it('scrubbing is idempotent and leaves no match of a selected detector', () => {
    fc.assert(fc.property(textArb, detectorsArb, (text, names) => {
      const once = scrubText(text, names);
      const twice = scrubText(once.text, names);
      assert.equal(twice.text, once.text);
      assert.deepEqual(twice.hits, {});
      for (const n of names) assert.deepEqual(jsMatches(n, once.text), [], n);
      if (Object.keys(once.hits).length === 0) assert.ok(Object.is(once.text, text));
    }), { numRuns: 3000 });
  });

  it('the hit count equals the number of replacement tokens added', () => {
    fc.assert(fc.property(textArb, (text) => {
      fc.pre(!text.includes('[')); // tokens already in the input may be swallowed by a URL
      const r = scrubText(text, ALL_DETECTORS);
      const count = (s: string, tok: string) => s.split(tok).length - 1;
      for (const n of ALL_DETECTORS) {
        const tok = `[${n.toUpperCase()}]`;
        assert.equal(count(r.text, tok) - count(text, tok), r.hits[n as DetectorName] ?? 0, n);
      }
    }), { numRuns: 1000 });
  });

  it('after the in-engine (SQL) scrub, the gateway scan finds nothing more', () => {
    // The SQL chain catches at least what the JS scan catches, on arbitrary mixes too.
    fc.assert(fc.property(textArb, detectorsArb, (text, names) => {
      const sql = sqlScrub(text, names);
      assert.deepEqual(scrubText(sql, names).hits, {}, JSON.stringify(sql));
    }), { numRuns: 3000 });
  });
});

describe('no catastrophic backtracking', () => {
  // Quadratic (or worse) patterns take seconds to hours on these; linear ones take milliseconds.
  const n = 20_000;
  const inputs: Record<string, string> = {
    'label + spaces': 'ssn ZIP tel MRN Jan' + ' '.repeat(n) + '1',
    'tabs and spaces': '1' + '\t '.repeat(n / 2),
    'newlines': 'a1' + '\n'.repeat(n),
    'digits': '1'.repeat(n),
    'dotted digits': '1.'.repeat(n / 2),
    'colons': '1:'.repeat(n / 2),
    'double colons': 'a::'.repeat(n / 3),
    'at signs': 'a@'.repeat(n / 2),
    'long local part': 'a'.repeat(n) + '@',
    'long domain': 'x@' + 'a.'.repeat(n / 2),
    'url then dots': 'http://' + '.'.repeat(n),
    'dashes': '1-'.repeat(n / 2),
    'month runs': 'Jan 1 '.repeat(n / 6),
    'label runs': 'SSN: 1 MRN 2 ZIP 3 tel 4 IL '.repeat(n / 28),
  };
  for (const [name, text] of Object.entries(inputs)) {
    it(name, () => {
      const t0 = performance.now();
      scrubText(text, ALL_DETECTORS);
      const ms = performance.now() - t0;
      assert.ok(ms < 1000, `${ms.toFixed(0)} ms for ${text.length} chars`);
    });
  }
});
