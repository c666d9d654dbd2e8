import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests, ManifestError, secretValue } from '../../../src/api/load.ts';

const POLICY = (name: string, extra = '') => `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: ${name}${extra} }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-1 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ] }
`;

/** A fresh directory with the given files (paths may contain subdirectories). */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'phigate-load-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

async function loadError(paths: string[]): Promise<ManifestError> {
  try {
    await loadManifests(paths);
  } catch (err) {
    assert.ok(err instanceof ManifestError, String(err));
    return err;
  }
  assert.fail('expected a ManifestError');
}

test('directories: every *.yaml / *.yml, recursively, in sorted order; other files skipped', async () => {
  const dir = tree({
    'b.yaml': POLICY('b'),
    'a.yml': POLICY('a'),
    'sub/c.yaml': POLICY('c'),
    'README.md': 'not yaml: [',
    'notes.txt': POLICY('ignored'),
    '..2026_11_25/b.yaml': POLICY('b'), // a mounted ConfigMap's hidden copies
  });
  const { policies } = await loadManifests([dir]);
  assert.deepEqual(policies.map((p) => p.policy.metadata.name), ['a', 'b', 'c']);
  assert.deepEqual(policies.map((p) => p.source), [join(dir, 'a.yml'), join(dir, 'b.yaml'), join(dir, 'sub/c.yaml')]);
});

test('multi-document files: policies, secrets and ignored kinds; namespace defaults to "default"', async () => {
  const dir = tree({
    'all.yaml': `${POLICY('one')}---\n${POLICY('two', ', namespace: team-a')}---\n---
apiVersion: v1
kind: Secret
metadata: { name: creds }
data: { password: aHVudGVyMg== }
stringData: { username: agent }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cm }
`,
  });
  const { policies, secrets, ignored } = await loadManifests([join(dir, 'all.yaml')]);
  assert.deepEqual(policies.map((p) => `${p.policy.metadata.namespace}/${p.policy.metadata.name}`), ['default/one', 'team-a/two']);
  assert.equal(policies[0]!.policy.spec.audit?.results, 'masked', 'defaults are applied');
  assert.equal(secrets.length, 1);
  assert.equal(secretValue(secrets, 'default', 'creds', 'password'), 'hunter2');
  assert.equal(secretValue(secrets, 'default', 'creds', 'username'), 'agent');
  assert.equal(secretValue(secrets, 'default', 'creds', 'missing'), undefined);
  assert.equal(secretValue(secrets, 'team-a', 'creds', 'password'), undefined, 'Secrets are namespaced');
  assert.deepEqual(ignored, [{ source: join(dir, 'all.yaml'), document: 5, kind: 'v1/ConfigMap', name: 'cm', reason: 'standalone mode reads only phigate.io/v1alpha1 AccessPolicy and v1 Secret' }]);
});

test('stringData wins over data for the same key, as in the API server', async () => {
  const dir = tree({ 's.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: { name: s }\ndata: { k: b2xk }\nstringData: { k: new }\n' });
  const { secrets } = await loadManifests([dir]);
  assert.equal(secretValue(secrets, 'default', 's', 'k'), 'new');
});

test('an invalid policy: file, document, object and each field in the message', async () => {
  const dir = tree({
    'policies/a.yaml': `${POLICY('fine')}---\n${POLICY('claims')}  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: mask } ] }\n  audit: { results: all }\n`,
  });
  const err = await loadError([join(dir, 'policies')]);
  const file = join(dir, 'policies/a.yaml');
  assert.deepEqual(err.problems, [
    `${file} (document 2, AccessPolicy default/claims): spec.audit.results: must be one of: masked, digest, none (got "all")`,
    `${file} (document 2, AccessPolicy default/claims): spec.masking.rules[0].strategy: must be one of: redact, partial, hash, null, year, zip3, email_domain, scrub (got "mask")`,
  ]);
  assert.equal(err.message, err.problems.join('\n'));
});

test('problems in several files are all reported at once', async () => {
  const dir = tree({ 'a.yaml': POLICY('a').replace('SELECT', 'SELEKT'), 'b.yaml': POLICY('b').replace('type: duckdb,', 'type: snowflake,') });
  const err = await loadError([dir]);
  assert.equal(err.problems.length, 3);
  assert.match(err.problems[0]!, /a\.yaml \(document 1, AccessPolicy default\/a\): spec\.access\.statements\[0\]: must be one of/);
  assert.match(err.problems[1]!, /b\.yaml \(document 1, AccessPolicy default\/b\): spec\.warehouse\.duckdb: duckdb is allowed only when type is duckdb/);
  assert.match(err.problems[2]!, /b\.yaml \(document 1, AccessPolicy default\/b\): spec\.warehouse\.snowflake: snowflake is required/);
});

test('YAML syntax errors name the file and line', async () => {
  const dir = tree({ 'bad.yaml': `${POLICY('ok')}---\nkind: AccessPolicy\nspec:\n  subjects: [ { kind: User\n  access: x\n` });
  const err = await loadError([join(dir, 'bad.yaml')]);
  assert.equal(err.problems.length, 1);
  assert.match(err.problems[0]!, new RegExp(`^${join(dir, 'bad.yaml')}: YAML syntax error at line 1[0-2], column \\d+: `));
  const dup = tree({ 'dup.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData:\n  k: 1\n  k: 2\n' });
  assert.match((await loadError([dup])).message, /dup\.yaml: YAML syntax error at line 6, column 3: Map keys must be unique/);
});

test('the same policy in two places is an error naming both', async () => {
  const dir = tree({ 'a.yaml': POLICY('claims'), 'b.yaml': POLICY('claims', ', namespace: default') });
  const err = await loadError([dir]);
  assert.deepEqual(err.problems, [
    `${join(dir, 'b.yaml')} (document 1, AccessPolicy default/claims): defined twice; first at ${join(dir, 'a.yaml')} (document 1). Rename one of them or remove the copy`,
  ]);
  // Same name in another namespace is a different object.
  const ok = tree({ 'a.yaml': POLICY('claims'), 'b.yaml': POLICY('claims', ', namespace: team-b') });
  assert.equal((await loadManifests([ok])).policies.length, 2);
});

test('a missing path is a clear error', async () => {
  const dir = tree({ 'a.yaml': POLICY('a') });
  const err = await loadError([join(dir, 'a.yaml'), join(dir, 'nope.yaml')]);
  assert.deepEqual(err.problems, [`${join(dir, 'nope.yaml')}: no such file or directory`]);
});

test('documents that are not objects, and Secrets with bad data', async () => {
  const dir = tree({ 'x.yaml': '- just\n- a list\n---\napiVersion: v1\nkind: Secret\nmetadata: { name: s }\ndata: { password: "not base64!" }\n' });
  const err = await loadError([dir]);
  assert.deepEqual(err.problems, [
    `${join(dir, 'x.yaml')} (document 1): not a Kubernetes object; expected a mapping with apiVersion and kind`,
    `${join(dir, 'x.yaml')} (document 2, Secret default/s): data.password: is not valid base64; put plain text under stringData instead`,
  ]);
});

test('YAML as kubectl reads it: 1.1 booleans, and unquoted timestamps stay strings', async () => {
  const secret = (value: string) => tree({ 's.yaml': `apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData: { k: ${value} }\n` });
  const { secrets } = await loadManifests([secret('2026-11-24T10:15:00Z')]);
  assert.equal(secretValue(secrets, 'default', 's', 'k'), '2026-11-24T10:15:00Z');
  assert.match((await loadError([secret('yes')])).message, /stringData\.k: must be a string \(quote numbers and booleans\)/);
});

test('ApprovalRequests in files are listed as ignored, with the reason', async () => {
  const dir = tree({ 'ar.yaml': 'apiVersion: phigate.io/v1alpha1\nkind: ApprovalRequest\nmetadata: { name: r }\nspec: {}\n' });
  const { ignored } = await loadManifests([dir]);
  assert.deepEqual(ignored.map((i) => [i.kind, i.name, i.reason]), [
    ['phigate.io/v1alpha1/ApprovalRequest', 'r', 'approvals are created by the gateway, not loaded from files'],
  ]);
});

test('an empty file or directory loads nothing', async () => {
  const dir = tree({ 'empty.yaml': '', 'comments.yaml': '# nothing here\n' });
  assert.deepEqual(await loadManifests([dir]), { policies: [], secrets: [], ignored: [] });
});
