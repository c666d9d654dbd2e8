// Static bearer tokens for standalone mode, in kube-apiserver's --token-auth-file format, so
// one file serves both a test cluster and `phigate serve`:
//
//   token,user,uid,"group1,group2"
//
// The groups column is optional and, being one CSV field, is quoted when it lists more than
// one group. Blank lines and lines starting with # are skipped; extra columns are ignored
// (as kube-apiserver does). Error messages name the line, never the token on it.
import { readFile } from 'node:fs/promises';

export interface TokenIdentity { user: string; uid: string; groups: string[] }

export class TokenFileError extends Error {
  override name = 'TokenFileError';
}

/** Parses the file's text into token → identity. `source` names the file in errors. */
export function parseTokenFile(text: string, source = 'token file'): Map<string, TokenIdentity> {
  const tokens = new Map<string, TokenIdentity>();
  const lineOf = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (what: string): never => {
      throw new TokenFileError(`${source}, line ${n}: ${what}; expected token,user,uid[,"group1,group2"]`);
    };
    const fields = splitCsvLine(line);
    if (typeof fields === 'string') return fail(fields);
    if (fields.length < 3) fail(`found ${fields.length} column${fields.length === 1 ? '' : 's'}, need at least 3`);
    const [token, user, uid, groups = ''] = fields.map((f) => f.trim()) as [string, string, string, string?];
    if (token === '') fail('empty token');
    if (user === '') fail('empty user name');
    const first = lineOf.get(token);
    if (first !== undefined) fail(`the same token is already on line ${first}`);
    lineOf.set(token, n);
    tokens.set(token, { user, uid, groups: groups.split(',').map((g) => g.trim()).filter((g) => g !== '') });
  });
  return tokens;
}

/** Reads and parses a token file. */
export async function readTokenFile(path: string): Promise<Map<string, TokenIdentity>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TokenFileError(code === 'ENOENT' ? `${path}: token file not found` : `${path}: cannot read token file (${code ?? String(err)})`);
  }
  return parseTokenFile(text, path);
}

/**
 * Splits one CSV record (RFC 4180 quoting: "a,b" is one field, "" inside quotes is a quote),
 * as strictly as Go's encoding/csv, which kube-apiserver uses. Returns what is wrong instead
 * of the fields when the quoting is broken.
 */
function splitCsvLine(line: string): string[] | string {
  const fields: string[] = [];
  let field = '';
  let quoted = false;   // inside a quoted field
  let wasQuoted = false; // this field was quoted, so only a comma may follow its closing quote
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (line[i + 1] === '"') { field += '"'; i++; }
      else quoted = false;
    } else if (c === ',') {
      fields.push(field); field = ''; wasQuoted = false;
    } else if (wasQuoted) {
      if (c !== ' ' && c !== '\t') return 'misplaced double quote (text after a closing quote)';
    } else if (c === '"' && field.trim() === '') {
      quoted = true; wasQuoted = true; field = '';
    } else if (c === '"') {
      return 'misplaced double quote (a quote inside an unquoted field)';
    } else {
      field += c;
    }
  }
  if (quoted) return 'unbalanced double quote';
  fields.push(field);
  return fields;
}
