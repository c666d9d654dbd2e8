import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DetectorName } from '../../../src/api/types.ts';
import { ALL_DETECTORS, DETECTORS, inPrecedenceOrder } from '../../../src/masking/detectors.ts';
import { scrubText } from '../../../src/masking/scan.ts';
import { FALSE_POSITIVES, TRUE_POSITIVES } from './cases.ts';
import { jsMatches, sqlScrub, subsetProblems } from './helpers.ts';


describe('detector table', () => {
  it('has every DetectorName once, in precedence order', () => {
    assert.deepEqual([...ALL_DETECTORS].sort(), Object.keys(DETECTORS).sort());
    assert.equal(new Set(ALL_DETECTORS).size, 9);
    assert.deepEqual(ALL_DETECTORS, ['url', 'email', 'mrn', 'ssn', 'credit_card', 'phone', 'ip', 'date', 'zip']);
    for (const name of ALL_DETECTORS) assert.equal(DETECTORS[name].name, name);
  });

  it('JS patterns are global', () => {
    for (const name of ALL_DETECTORS) assert.ok(DETECTORS[name].pattern.global, name);
  });

  it('replacements are plain tokens that no detector can match', () => {
    for (const name of ALL_DETECTORS) {
      const r = DETECTORS[name].replacement;
      assert.match(r, /^\[[A-Z_]+\]$/, name);
      assert.doesNotMatch(r, /[\\$&0-9@:]/, name);
      const text = `${r} ${r}${r}`;
      for (const other of ALL_DETECTORS) assert.deepEqual(jsMatches(other, text), [], `${other} on ${r}`);
      assert.equal(sqlScrub(text, ALL_DETECTORS), text, `sql on ${r}`);
    }
  });

  it('inPrecedenceOrder sorts and dedups', () => {
    assert.deepEqual(inPrecedenceOrder(['zip', 'url', 'ssn', 'url']), ['url', 'ssn', 'zip']);
    assert.deepEqual(inPrecedenceOrder([]), []);
  });
});

for (const name of ALL_DETECTORS) {
  describe(`detector ${name}`, () => {
    const tps = TRUE_POSITIVES[name];
    const fps = FALSE_POSITIVES[name];

    it('has at least 8 true and 8 false positives', () => {
      assert.ok(tps.length >= 8, `${tps.length} TPs`);
      assert.ok(fps.length >= 8, `${fps.length} FPs`);
      for (const c of tps) assert.ok(c.text.includes(c.value), c.text);
    });

    for (const c of tps) {
      it(`detects ${JSON.stringify(c.text)}`, () => {
        const r = scrubText(c.text, [name]);
        const expected = c.text.replace(c.value, DETECTORS[name].replacement);
        if (name === 'phone' && c.text.startsWith('home')) {
          // two numbers in one text
          assert.equal(r.text, 'home [PHONE], work [PHONE]');
          assert.equal(r.hits.phone, 2);
        } else {
          assert.equal(r.text, expected);
          assert.equal(r.hits[name], 1);
        }
        assert.deepEqual(Object.keys(r.hits), [name]);
      });
    }

    for (const text of fps) {
      it(`ignores ${JSON.stringify(text)}`, () => {
        const r = scrubText(text, [name]);
        assert.equal(r.text, text);
        assert.deepEqual(r.hits, {});
      });
    }

    it('sqlPattern stays in the RE2 / POSIX ERE common subset', () => {
      assert.deepEqual(subsetProblems(DETECTORS[name].sqlPattern), []);
    });

    it('sqlPattern (run by the JS engine) scrubs every true positive', () => {
      for (const c of tps) {
        const out = sqlScrub(c.text, [name]);
        assert.ok(!out.includes(c.value), `${c.text} -> ${out}`);
        assert.ok(out.includes(DETECTORS[name].replacement), `${c.text} -> ${out}`);
        assert.deepEqual(jsMatches(name, out), [], `${c.text} -> ${out}`);
      }
    });
  });
}

describe('subset checker', () => {
  it('rejects what the engines disagree on', () => {
    for (const bad of ['\\d{3}', '[0-9]+?', '(?:a)', '(?=a)', 'a\\1', '[[:digit:]]', 'a.b', '^a$',
      "it's", '(a|)', 'a**', '[]a]', 'x{2,1}']) {
      assert.notDeepEqual(subsetProblems(bad), [], bad);
    }
    assert.deepEqual(subsetProblems('([0-9]{3}[ -])?[A-Za-z]+|[+]1'), []);
  });
});

describe('credit_card', () => {
  it('false positives that look like cards fail Luhn', () => {
    for (const text of ['4111111111111112', '4111 1111 1111 1112', '1234567890123', '5555555555554445']) {
      assert.equal(DETECTORS.credit_card.validate!(text), false, text);
    }
    for (const c of TRUE_POSITIVES.credit_card) assert.equal(DETECTORS.credit_card.validate!(c.value), true, c.value);
  });
  it('the SQL pattern over-matches card-shaped runs that fail Luhn (safe direction)', () => {
    assert.equal(sqlScrub('4111111111111112', ['credit_card']), '[CREDIT_CARD]');
    assert.equal(scrubText('4111111111111112', ['credit_card']).text, '4111111111111112');
  });
  it('masks a card followed by a CVV or expiry', () => {
    assert.equal(scrubText('4111 1111 1111 1111 123', ['credit_card']).text, '[CREDIT_CARD] 123');
    assert.equal(scrubText('4111111111111111 12/26', ['credit_card']).text, '[CREDIT_CARD] 12/26');
  });
});

describe('precedence', () => {
  const all = ALL_DETECTORS;
  const cases: [string, string, Partial<Record<DetectorName, number>>][] = [
    // a URL swallows the email, phone, date and IP inside it
    ['https://example.org/u/jane@example.org/555-123-4567?d=2024-01-31', '[URL]', { url: 1 }],
    ['http://192.0.2.1/admin x', '[URL] x', { url: 1 }],
    // an email swallows the date in its local part
    ['jane.1980-01-31@example.org', '[EMAIL]', { email: 1 }],
    // the labelled MRN is one span; its digits are neither ssn/phone/zip/date
    ['MRN: 12345678', '[MRN]', { mrn: 1 }],
    ['ZIP MRN-12345678', 'ZIP [MRN]', { mrn: 1 }],
    // SSN digits are not a phone or a date
    ['SSN: 123-45-6789', 'SSN: [SSN]', { ssn: 1 }],
    ['SSN 123456789', 'SSN [SSN]', { ssn: 1 }],
    // a card is one span, not phone/date/zip pieces
    ['4111 1111 1111 1111', '[CREDIT_CARD]', { credit_card: 1 }],
    ['CA 4111111111111111', 'CA [CREDIT_CARD]', { credit_card: 1 }],
    // an IP is not a date or phone
    ['203.0.113.255', '[IP]', { ip: 1 }],
    // ZIP+4 is not a phone or an SSN
    ['Anytown, IL 62704-1234', 'Anytown, IL [ZIP]', { zip: 1 }],
    // ISO timestamp is one date
    ['2024-01-31T10:15:00Z', '[DATE]', { date: 1 }],
  ];
  for (const [text, out, hits] of cases) {
    it(`${JSON.stringify(text)} -> ${JSON.stringify(out)}`, () => {
      const r = scrubText(text, all);
      assert.equal(r.text, out);
      assert.deepEqual(r.hits, hits);
    });
  }

  it('does not depend on the order detectors are listed in', () => {
    const text = 'https://example.org/call/555-123-4567 and 555-123-4567';
    const a = scrubText(text, ['phone', 'url']);
    const b = scrubText(text, ['url', 'phone']);
    assert.deepEqual(a, b);
    assert.equal(a.text, '[URL] and [PHONE]');
  });

  it('only among selected detectors: without url, the phone inside a URL is still masked', () => {
    const r = scrubText('https://example.org/call/555-123-4567', ['phone']);
    assert.equal(r.text, 'https://example.org/call/[PHONE]');
  });

  it('the SQL chain follows the same precedence', () => {
    for (const [text, out] of cases) {
      const sql = sqlScrub(text, all);
      // The SQL side consumes labels it cannot keep (no capture groups), otherwise the same.
      assert.deepEqual(jsMatches('ssn', sql).concat(...all.map((n) => jsMatches(n, sql))), [], sql);
      if (!/SSN|ZIP|IL/.test(text)) assert.equal(sql, out, text);
    }
  });
});

describe('replacement keeps surrounding text', () => {
  it('replaces only the spans', () => {
    const text = 'Call 555-123-4567 or email jane@example.org today; DOB Jan 31, 2024.\nNext line.';
    const r = scrubText(text, ALL_DETECTORS);
    assert.equal(r.text, 'Call [PHONE] or email [EMAIL] today; DOB [DATE].\nNext line.');
    assert.deepEqual(r.hits, { email: 1, phone: 1, date: 1 });
  });
  it('keeps labels on the JS side', () => {
    assert.equal(scrubText('SSN: 123456789; Phone: 5551234567; Springfield, IL 62704', ALL_DETECTORS).text,
      'SSN: [SSN]; Phone: [PHONE]; Springfield, IL [ZIP]');
  });
  it('handles adjacent and repeated values', () => {
    assert.equal(scrubText('555-123-4567,555-123-4568;555-123-4569', ['phone']).text, '[PHONE],[PHONE];[PHONE]');
    assert.equal(scrubText('a@example.org b@example.org', ['email']).hits.email, 2);
  });
  it('leaves unselected detectors alone', () => {
    const text = 'jane@example.org 555-123-4567';
    assert.equal(scrubText(text, ['email']).text, '[EMAIL] 555-123-4567');
    assert.equal(scrubText(text, []).text, text);
  });
});
