// Value detectors for PHI in free text. Each detector has two forms of the same idea:
//
// - `sqlPattern`, for REGEXP_REPLACE inside the warehouse's masked projection. It must mean the
//   same on DuckDB (RE2, leftmost-first) and Snowflake (POSIX ERE, leftmost-longest), so it uses
//   only the common subset: bracket classes, literal characters, groups, alternation and the
//   greedy quantifiers ? * + {m,n}. No backslash at all (Snowflake string literals treat it as
//   an escape), no single quote (so the adapter can embed it in a literal as is), no \d \b \w,
//   no lookaround, no backreferences, no lazy quantifiers, no ']' inside a bracket (JS and POSIX
//   disagree on `[]...]`). Alternatives are ordered longest-first so that leftmost-first and
//   leftmost-longest pick the same span. With no word boundaries available, a sqlPattern
//   over-matches (it may mask a card-shaped run inside a longer number, or swallow the label
//   before a labelled value): masking too much is the safe direction in the engine.
//   Use with every occurrence replaced: DuckDB regexp_replace(s, p, r, 'g'); Snowflake
//   REGEXP_REPLACE(s, p, r) replaces all by default.
// - `pattern`, a global JS RegExp for the gateway's second scan of result cells. It may use
//   lookaround and \b, so it is precise: digit groups must not be glued to other word
//   characters or continue a dash/dot-joined number, and a label (SSN:, ZIP, Phone:) is kept
//   in the output via lookbehind, only the value being replaced. `validate` narrows further
//   (Luhn for cards, node:net for IPv6). Every repetition next to a label or whitespace is
//   bounded ({0,3}, not *) and label lookbehinds sit behind a cheap (?=\d) guard: an unbounded
//   lookbehind ran in cubic time on long whitespace runs.
//
// Precedence (ALL_DETECTORS order, most specific container first). Both layers apply detectors
// one after another in this order, each over the previous one's output, so a span claimed by an
// earlier detector is already a replacement token when later ones run:
//   1. url          a URL may hold an email, an IP, dates, phone-like or card-like digits
//   2. email        local parts often hold digits/dates (jane.1980-01-02@example.org)
//   3. mrn          explicitly labelled ('MRN-', 'MRN:'); its digits must not be split up
//   4. ssn          ddd-dd-dddd is more specific than phone or date digits
//   5. credit_card  13-19 digit runs, before phone/date/zip can claim a piece of them
//   6. phone        3-3-4 grouping, before ip/date/zip
//   7. ip           dotted quad / IPv6, before date (both are digit-punctuation runs)
//   8. date
//   9. zip          lowest confidence; only with a state abbreviation or a ZIP label
// Replacement tokens contain none of [0-9@:], while every match contains one of them: a token is
// never matched on its own, and every hit strictly removes one of those characters, so the
// gateway's re-scan until nothing changes (scan.ts) terminates. Note: a precedence order only
// ranks the detectors that a policy selects (without url, a phone inside a URL is masked).

import { isIPv6 } from 'node:net';
import type { DetectorName } from '../api/types.ts';

export interface Detector {
  name: DetectorName;
  /** Global JS RegExp for the gateway's result scan. Stateful (lastIndex): copy before concurrent use. */
  pattern: RegExp;
  /** Pattern in the RE2/POSIX common subset for REGEXP_REPLACE inside the warehouse. */
  sqlPattern: string;
  /** What a detected span becomes, e.g. '[SSN]'. Contains no regex-special or backslash characters. */
  replacement: string;
  /** Extra check of a candidate match (e.g. Luhn for credit cards). */
  validate?(match: string): boolean;
}

// ---------------------------------------------------------------------------------------------
// Building blocks. JS fragments are written with String.raw; SQL fragments never contain a
// backslash: the whitespace class below holds real tab/CR/LF characters, not escapes.

/** Case-insensitive literal for SQL: 'mrn' -> '[Mm][Rr][Nn]' (no engine flag needed). */
function ci(word: string): string {
  let out = '';
  for (const ch of word) {
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    out += lo !== up ? `[${up}${lo}]` : ch === ' ' ? `${SQL_WS}+` : ch === '.' ? '[.]' : ch;
  }
  return out;
}
const SQL_WS = '[ \t\r\n]';
const SQL_D = '[0-9]';

/** Not glued to a word character and not the tail of a dash/dot-joined number. */
const JS_L = String.raw`(?<![\w]|\d[-.])`;
/** Not followed by a word character and not continued by -digit / .digit. */
const JS_R = String.raw`(?![\w]|[-.]\d)`;

function js(parts: string[], flags: string): RegExp {
  return new RegExp(parts.join('|'), flags);
}

// --- ssn -------------------------------------------------------------------------------------
// ddd-dd-dddd / ddd dd dddd anywhere; a bare 9-digit run only right after an SSN label (bare
// 9-digit numbers are too common: zip+4 without dash, order numbers).
const SSN_LABEL_JS = String.raw`\b(?:ssn|social\s{1,3}security(?:\s{1,3}(?:number|no\b\.?))?)(?:\s{0,3}(?:#|no\b\.?|number|is))?[\s:#=-]{0,4}`;
const ssn: Detector = {
  name: 'ssn',
  pattern: js([
    String.raw`${JS_L}(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})${JS_R}`,
    String.raw`(?=\d)(?<=${SSN_LABEL_JS})\d{9}${JS_R}`,
  ], 'gi'),
  // The label alternative consumes the label (no capture groups in the replacement) and allows
  // any short non-digit gap after it: over-matching, which is fine in the engine.
  sqlPattern: [
    `${SQL_D}{3}[ -]${SQL_D}{2}[ -]${SQL_D}{4}`,
    `(${ci('ssn')}|${ci('social security')})[^0-9]{0,16}${SQL_D}{9}`,
  ].join('|'),
  replacement: '[SSN]',
};

// --- phone -----------------------------------------------------------------------------------
// US numbers with area code; separators must be consistent (555-123-4567, 555.123.4567,
// 555 123 4567) or the (555) 123-4567 form; optional +1 / 1- prefix; +15551234567 (E.164);
// a bare 10-digit run only after a phone label. Numbers without an area code are not matched
// (7 digits alone collide with too much).
const PHONE_BODY_JS = String.raw`(?:\(\d{3}\) ?\d{3}[-. ]|\d{3}-\d{3}-|\d{3}\.\d{3}\.|\d{3} \d{3} )\d{4}`;
const PHONE_LABEL_JS = String.raw`\b(?:phone|tel|cell|mobile|fax|ph)\.?(?:\s{0,3}(?:#|no\b\.?|number))?[\s:#=-]{0,4}`;
const phone: Detector = {
  name: 'phone',
  pattern: js([
    String.raw`(?<![\w+]|\d[-.])(?:(?:\+1[-. ]?|\b1[-. ])?${PHONE_BODY_JS}|\+1\d{10})${JS_R}`,
    String.raw`(?=[+\d])(?<=${PHONE_LABEL_JS})(?:\+?1)?\d{10}${JS_R}`,
  ], 'gi'),
  sqlPattern: [
    `([+]?1[-. ]?)?([(]${SQL_D}{3}[)] ?|${SQL_D}{3}[-. ])${SQL_D}{3}[-. ]${SQL_D}{4}`,
    `[+]1${SQL_D}{10}`,
    `(${['phone', 'tel', 'cell', 'mobile', 'fax', 'ph'].map(ci).join('|')})[^0-9]{0,12}[+]?1?${SQL_D}{10}`,
  ].join('|'),
  replacement: '[PHONE]',
};

// --- email -----------------------------------------------------------------------------------
// local@label.label.tld with an alphabetic TLD of 2+ letters: rejects user@localhost, a@b,
// foo@1.2.3.4, @mentions. validate() rejects image names like icon@2x.png.
const FILE_TLDS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'bmp', 'tif', 'tiff']);
const email: Detector = {
  name: 'email',
  pattern: new RegExp(
    String.raw`(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}(?![A-Za-z])`, 'g'),
  sqlPattern: `[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+[.])+[A-Za-z]{2,63}`,
  replacement: '[EMAIL]',
  validate(match) {
    const tld = match.slice(match.lastIndexOf('.') + 1).toLowerCase();
    return !FILE_TLDS.has(tld);
  },
};

// --- mrn -------------------------------------------------------------------------------------
// Our dataset's format: 'MRN-' + 8 digits; also 'MRN: 12345678', 'MRN 12345678', 'MRN#...',
// 'Medical record number 12345678'. Always labelled, so the whole labelled span is replaced
// (the 'MRN-' prefix is part of the identifier itself).
const mrn: Detector = {
  name: 'mrn',
  pattern: new RegExp(
    String.raw`(?<![\w])(?:mrn|medical\s{1,3}record(?:\s{1,3}(?:number|no\b\.?))?)(?:\s{0,3}(?:#|no\b\.?|number))?[\s:#=-]{0,4}\d{8}${JS_R}`,
    'gi'),
  sqlPattern: `(${ci('mrn')}|${ci('medical record')})[^0-9]{0,16}${SQL_D}{8}`,
  replacement: '[MRN]',
};

// --- date ------------------------------------------------------------------------------------
// ISO 2024-01-31 (optionally with a T-time, which is replaced with it), 2024/01/31; US
// 01/31/2024, 1/31/24 (either order of day and month is accepted: both are dates); 01-31-2024
// (dashes need a 4-digit year); 'Jan 31, 2024', 'January 31st 2024', '31 Jan 2024',
// 'January 2024' (HIPAA Safe Harbor removes every date element but the year). Years are 18xx-20xx.
// Not matched: a bare year, 1.2.3 / dotted versions, 120/80, 3/4, 10/20 (no year).
const MONTHS = [
  'january', 'jan', 'february', 'feb', 'march', 'mar', 'april', 'apr', 'may', 'june', 'jun',
  'july', 'jul', 'august', 'aug', 'september', 'sept', 'sep', 'october', 'oct', 'november',
  'nov', 'december', 'dec',
];
const ORDINALS = ['st', 'nd', 'rd', 'th'];
const J_MON = `(?:${MONTHS.join('|')})`;
const J_D = String.raw`(?:0?[1-9]|[12]\d|3[01])`;
const J_MM = String.raw`(?:0[1-9]|1[0-2])`;
const J_DD = String.raw`(?:0[1-9]|[12]\d|3[01])`;
const J_Y4 = String.raw`(?:1[89]|20)\d{2}`;
const J_TIME = String.raw`(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?`;
const J_DL = String.raw`(?<![\d]|\d[-/.])`;
const J_DR = String.raw`(?![\d]|[-/.]\d)`;
const S_MON = `(${MONTHS.map(ci).join('|')})`;
const S_D = `(0?[1-9]|[12]${SQL_D}|3[01])`;
const S_MM = `(0[1-9]|1[0-2])`;
const S_DD = `(0[1-9]|[12]${SQL_D}|3[01])`;
const S_Y4 = `(1[89]|20)${SQL_D}{2}`;
const S_ORD = `(${ORDINALS.map(ci).join('|')})?`;
const S_TIME = `([Tt]${SQL_D}{2}:${SQL_D}{2}(:${SQL_D}{2}([.]${SQL_D}{1,9})?)?([Zz]|[+-]${SQL_D}{2}:?${SQL_D}{2})?)?`;
const date: Detector = {
  name: 'date',
  pattern: js([
    String.raw`${J_DL}(?:${J_Y4}-${J_MM}-${J_DD}|${J_Y4}/${J_MM}/${J_DD})${J_TIME}${J_DR}`,
    String.raw`${J_DL}(?:${J_D}/${J_D}/(?:${J_Y4}|\d{2})|${J_D}-${J_D}-${J_Y4})${J_DR}`,
    // 'Jan 31, 2024', 'January 31st 2024', 'Jan 2024' (the day is optional)
    String.raw`(?<![A-Za-z])${J_MON}\.?(?:\s{1,3}${J_D}(?:${ORDINALS.join('|')})?)?,?\s{1,3}${J_Y4}${J_DR}`,
    String.raw`(?<![\w])${J_D}(?:${ORDINALS.join('|')})?\s{1,3}(?:of\s{1,3})?${J_MON}\.?,?\s{1,3}${J_Y4}${J_DR}`,
  ], 'gi'),
  sqlPattern: [
    `${S_Y4}[/-]${S_MM}[/-]${S_DD}${S_TIME}`,
    `${S_D}/${S_D}/(${S_Y4}|${SQL_D}{2})`,
    `${S_D}-${S_D}-${S_Y4}`,
    `${S_MON}[.]?(${SQL_WS}+${S_D}${S_ORD})?,?${SQL_WS}+${S_Y4}`,
    `${S_D}${S_ORD}${SQL_WS}+(${ci('of')}${SQL_WS}+)?${S_MON}[.]?,?${SQL_WS}+${S_Y4}`,
  ].join('|'),
  replacement: '[DATE]',
};

// --- ip --------------------------------------------------------------------------------------
// IPv4 dotted quad, each octet 0-255 without leading zeros (rejects 999.1.1.1, 1.2.3, 01.02.03.04).
// IPv6: full, '::'-compressed, and IPv4-embedded forms; JS validates the candidate with
// node:net. A bare trailing '::' needs two groups before it (not 'x::' as in C++ names).
const J_OCT = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const J_V4 = String.raw`${J_OCT}(?:\.${J_OCT}){3}`;
const J_H = '[0-9A-Fa-f]{1,4}';
const S_OCT = `(25[0-5]|2[0-4]${SQL_D}|1${SQL_D}{2}|[1-9]?${SQL_D})`;
const S_V4 = `${S_OCT}[.]${S_OCT}[.]${S_OCT}[.]${S_OCT}`;
const S_H = '[0-9A-Fa-f]{1,4}';
const ip: Detector = {
  name: 'ip',
  pattern: js([
    String.raw`(?<![\w:.])(?:(?:[0-9A-Fa-f]{0,4}:){2,6}${J_V4}|(?:${J_H}:){7}${J_H}|(?:${J_H}:){1,6}(?::${J_H}){1,6}|(?:${J_H}:){2,7}:|::(?:${J_H}:){0,5}${J_H})(?![\w:]|\.\d)`,
    String.raw`(?<![\w.])${J_V4}(?![\w]|\.\d)`,
  ], 'g'),
  sqlPattern: [
    `([0-9A-Fa-f]{0,4}:){2,6}${S_V4}`,
    `(${S_H}:){7}${S_H}`,
    `(${S_H}:){1,6}(:${S_H}){1,6}`,
    `(${S_H}:){2,7}:`,
    `::(${S_H}:){0,5}${S_H}`,
    S_V4,
  ].join('|'),
  replacement: '[IP]',
  validate(match) {
    return match.includes(':') ? isIPv6(match) : true;
  },
};

// --- url -------------------------------------------------------------------------------------
// http(s):// up to whitespace, quotes or angle brackets; trailing sentence punctuation and a
// closing bracket are left outside.
const url: Detector = {
  name: 'url',
  pattern: new RegExp(
    String.raw`(?<![\w])https?:\/\/[^\s<>"'\x60]*[^\s<>"'\x60.,;:!?)\]}]`, 'gi'),
  sqlPattern: `${ci('http')}[Ss]?://[^ \t\r\n<>"]*[^ \t\r\n<>".,;:!?)]`,
  replacement: '[URL]',
};

// --- zip -------------------------------------------------------------------------------------
// 5 digits or ZIP+4, only after an upper-case state/territory abbreviation ('Springfield, IL
// 62704') or a ZIP / zip code / postal code label. A bare 5-digit number is far more often a
// count, an amount or an id than a ZIP code. Upper case only for states, so 'in 12345' or
// 'or 12345' in prose do not match.
const STATES = [
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA',
  'KS', 'KY', 'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM',
  'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA',
  'WV', 'WI', 'WY', 'PR', 'VI', 'GU', 'AS', 'MP', 'AA', 'AE', 'AP',
];
const ZIP_LABEL_JS = String.raw`\b[Zz][Ii][Pp](?:[ \t]?[Cc][Oo][Dd][Ee])?(?:\+4)?[ \t]{0,3}[:#=-]?[ \t]{0,3}|\b[Pp]ostal[ \t]{1,3}[Cc]ode[ \t]{0,3}[:#=-]?[ \t]{0,3}`;
const zip: Detector = {
  name: 'zip',
  pattern: new RegExp(
    String.raw`(?=\d)(?<=\b(?:${STATES.join('|')})\.?,?[ \t]{1,3}|${ZIP_LABEL_JS})\d{5}(?:-\d{4})?(?![\w])`, 'g'),
  sqlPattern: `(${ci('zip')}([ \t]?${ci('code')})?([+]4)?[ \t]*[:#=-]?[ \t]*|${ci('postal')}[ \t]+${ci('code')}[ \t]*[:#=-]?[ \t]*|(${STATES.join('|')})[.]?,?[ \t]{1,3})${SQL_D}{5}(-${SQL_D}{4})?`,
  replacement: '[ZIP]',
};

// --- credit_card -----------------------------------------------------------------------------
// 13-19 contiguous digits, or the printed groupings 4-4-4-4 and 4-6-5/4-6-4 (Amex, Diners) with
// one consistent separator, Luhn-checked in JS. In SQL there is no Luhn and the grouped form
// also takes a short 5th group, so every card-shaped run is masked (the safe direction).
function luhn(match: string): boolean {
  let sum = 0;
  let double = false;
  let digits = 0;
  for (let i = match.length - 1; i >= 0; i--) {
    const c = match.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    digits++;
    let v = double ? c * 2 : c;
    if (v > 9) v -= 9;
    sum += v;
    double = !double;
  }
  return digits >= 13 && digits <= 19 && sum % 10 === 0;
}
const credit_card: Detector = {
  name: 'credit_card',
  pattern: new RegExp(
    String.raw`(?<![\w]|\d[-.])(?:\d{13,19}|\d{4}-\d{4}-\d{4}-\d{4}|\d{4} \d{4} \d{4} \d{4}|\d{4}-\d{6}-\d{4,5}|\d{4} \d{6} \d{4,5})${JS_R}`,
    'g'),
  sqlPattern: [
    `${SQL_D}{13,19}`,
    `${SQL_D}{4}[ -]${SQL_D}{4}[ -]${SQL_D}{4}[ -]${SQL_D}{4}([ -]${SQL_D}{1,3})?`,
    `${SQL_D}{4}[ -]${SQL_D}{6}[ -]${SQL_D}{4,5}`,
  ].join('|'),
  replacement: '[CREDIT_CARD]',
  validate: luhn,
};

// ---------------------------------------------------------------------------------------------

/** Every detector, in precedence order (see the header): apply them in this order. */
export const ALL_DETECTORS: DetectorName[] = [
  'url', 'email', 'mrn', 'ssn', 'credit_card', 'phone', 'ip', 'date', 'zip',
];

export const DETECTORS: Record<DetectorName, Detector> = {
  url, email, mrn, ssn, credit_card, phone, ip, date, zip,
};

/** The given detectors, deduplicated, in precedence order: the order to nest REGEXP_REPLACE in
 *  (first = innermost) and to scan in. */
export function inPrecedenceOrder(names: readonly DetectorName[]): DetectorName[] {
  return ALL_DETECTORS.filter((n) => names.includes(n));
}
