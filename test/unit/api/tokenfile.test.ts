import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTokenFile, readTokenFile, TokenFileError } from '../../../src/gateway/tokenfile.ts';

test('kube-apiserver format: groups optional, quoted groups with commas', () => {
  const tokens = parseTokenFile([
    '# agents',
    'tok-a,agent-1,u1,"agents"',
    '',
    'tok-b,bob@example.com,u2,"privacy-office,reviewers"',
    'tok-c,carol,u3',
    '  tok-d , dave , u4 , " a , b ,, "  ',
    'tok-e,"eve, the second",u5,"g",ignored-extra-column',
    'tok-f,frank,u6,""',
  ].join('\r\n'));
  assert.deepEqual(Object.fromEntries(tokens), {
    'tok-a': { user: 'agent-1', uid: 'u1', groups: ['agents'] },
    'tok-b': { user: 'bob@example.com', uid: 'u2', groups: ['privacy-office', 'reviewers'] },
    'tok-c': { user: 'carol', uid: 'u3', groups: [] },
    'tok-d': { user: 'dave', uid: 'u4', groups: ['a', 'b'] },
    'tok-e': { user: 'eve, the second', uid: 'u5', groups: ['g'] },
    'tok-f': { user: 'frank', uid: 'u6', groups: [] },
  });
});

test('unquoted single group, escaped quotes, BOM', () => {
  const tokens = parseTokenFile('\uFEFFtok,alice,u1,agents\ntok2,"say ""hi""",u2\n');
  assert.deepEqual(tokens.get('tok'), { user: 'alice', uid: 'u1', groups: ['agents'] });
  assert.equal(tokens.get('tok2')?.user, 'say "hi"');
});

test('malformed lines name the line number and never the token', () => {
  const cases: [string, RegExp][] = [
    ['ok,u,1\nsecret-token-1,only-user\n', /^tokens\.csv, line 2: found 2 columns, need at least 3; expected token,user,uid\[,"group1,group2"\]$/],
    ['# c\n\nsecret-token-1,u,1,"unterminated\n', /^tokens\.csv, line 3: unbalanced double quote/],
    ['secret-token-1,u,1,"g"x\n', /line 1: misplaced double quote/],
    ['secret-token-1,a "b" c,1\n', /line 1: misplaced double quote/],
    [',u,1\n', /line 1: empty token/],
    ['secret-token-1,,1\n', /line 1: empty user name/],
    ['secret-token-1,a,1\nsecret-token-1,b,2\n', /line 2: the same token is already on line 1/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseTokenFile(text, 'tokens.csv'), (err: Error) => {
      assert.ok(err instanceof TokenFileError);
      assert.match(err.message, expected);
      assert.doesNotMatch(err.message, /secret-token-1/);
      return true;
    });
  }
});

test('readTokenFile reads a file and reports a missing one clearly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'phigate-tokens-'));
  writeFileSync(join(dir, 'tokens.csv'), 'tok-a,agent-1,u1,"agents"\n');
  assert.deepEqual((await readTokenFile(join(dir, 'tokens.csv'))).get('tok-a'), { user: 'agent-1', uid: 'u1', groups: ['agents'] });
  await assert.rejects(readTokenFile(join(dir, 'nope.csv')), { name: 'TokenFileError', message: `${join(dir, 'nope.csv')}: token file not found` });
});
