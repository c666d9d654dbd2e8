// Every example under manifests/examples must be valid: people copy them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadManifests } from '../../../src/api/load.ts';
import { formatFieldErrors, validateApprovalRequest } from '../../../src/api/validate.ts';

const dir = fileURLToPath(new URL('../../../manifests/examples/', import.meta.url));
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();

test('the examples directory loads: every policy valid, every Secret readable', async () => {
  const { policies, secrets, ignored } = await loadManifests([dir]);
  assert.deepEqual(policies.map((p) => `${p.policy.metadata.namespace}/${p.policy.metadata.name}`).sort(), ['default/demo', 'team-a/claims-analytics']);
  assert.deepEqual(secrets.map((s) => s.metadata.name).sort(), ['demo-hash-key', 'snowflake-agent']);
  assert.deepEqual(ignored.map((i) => i.kind).sort(), [
    'v1/ServiceAccount', 'phigate.io/v1alpha1/ApprovalRequest', 'rbac.authorization.k8s.io/v1/Role',
    'rbac.authorization.k8s.io/v1/RoleBinding', 'rbac.authorization.k8s.io/v1/RoleBinding',
  ].sort());
});

for (const file of files) {
  test(`${file}: every phigate object validates`, () => {
    const docs = parseAllDocuments(readFileSync(`${dir}${file}`, 'utf8')).map((d) => d.toJS());
    for (const doc of docs.filter((d) => d?.kind === 'ApprovalRequest')) {
      const r = validateApprovalRequest(doc);
      assert.ok(r.ok, r.ok ? '' : formatFieldErrors(r.errors));
    }
  });
}

test('the demo policy masks what DESIGN.md promises', async () => {
  const { policies } = await loadManifests([`${dir}demo-policy.yaml`]);
  const spec = policies[0]!.policy.spec;
  const strategyOf = (col: string) => spec.masking?.rules?.find((r) => r.columns.includes(col))?.strategy;
  assert.deepEqual(
    ['PATIENTS.SSN', 'PATIENTS.MRN', 'PATIENTS.DOB', 'PATIENTS.ZIP', '*.PHONE', '*.EMAIL', 'PATIENTS.FIRST_NAME', 'PATIENTS.LAST_NAME', 'PATIENTS.ADDRESS', '*.NOTES'].map(strategyOf),
    ['redact', 'hash', 'year', 'zip3', 'partial', 'email_domain', 'redact', 'redact', 'redact', 'scrub'],
  );
  assert.equal(spec.warehouse.duckdb?.path, ':demo:');
  assert.deepEqual(spec.subjects, [{ kind: 'User', name: 'demo-agent' }]);
  assert.deepEqual(spec.approval?.requiredWhen, [{ unmasked: ['PATIENTS.SSN'] }]);
});
