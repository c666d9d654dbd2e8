import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateAccessPolicy, validateApprovalRequest, type FieldError } from '../../../src/api/validate.ts';
import type { ApprovalRequest } from '../../../src/api/types.ts';

/** The smallest valid policy; each test changes one thing. */
function policy(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'phigate.io/v1alpha1',
    kind: 'AccessPolicy',
    metadata: { name: 'claims', namespace: 'team-a' },
    spec: {
      warehouse: { type: 'duckdb', duckdb: { path: ':demo:' } },
      subjects: [{ kind: 'User', name: 'agent-1' }],
      access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS', columns: ['*'] }] },
      ...spec,
    },
    ...extra,
  };
}

function errorsOf(obj: unknown): FieldError[] {
  const r = validateAccessPolicy(obj);
  assert.equal(r.ok, false, 'expected the policy to be invalid');
  return r.ok ? [] : r.errors;
}

/** Asserts exactly these paths fail, each with a message matching its pattern. */
function expectErrors(obj: unknown, expected: Record<string, RegExp>) {
  const errors = errorsOf(obj);
  assert.deepEqual(errors.map((e) => e.path).sort(), Object.keys(expected).sort(), JSON.stringify(errors, null, 1));
  for (const e of errors) assert.match(e.message, expected[e.path]!, `${e.path}: ${e.message}`);
}

test('a minimal policy is valid and gets the API server defaults', () => {
  const r = validateAccessPolicy(policy());
  assert.ok(r.ok);
  assert.deepEqual(r.value.spec.guardrails, {
    deny: ['ddl', 'dml_without_where', 'dml', 'copy_into', 'grant', 'multi_statement', 'unparsed', 'session_change', 'external_access'],
  });
  assert.deepEqual(r.value.spec.audit, { results: 'masked' });
  assert.equal(r.value.spec.warehouse.duckdb?.schema, 'main');
  assert.equal(r.value.spec.approval, undefined, 'no approval block is made up');
});

test('defaults fill only what is absent, and the input is not modified', () => {
  const input = policy({
    masking: { rules: [{ columns: ['PATIENTS.PHONE'], strategy: 'partial' }, { columns: ['PATIENTS.ZIP'], strategy: 'partial', keep: 2 }] },
    guardrails: { deny: [] },
    approval: { requiredWhen: [{ rowsOver: 10 }], approvers: [{ kind: 'User', name: 'bob' }] },
    audit: { results: 'digest' },
  });
  const before = structuredClone(input);
  const r = validateAccessPolicy(input);
  assert.ok(r.ok);
  assert.deepEqual(input, before);
  assert.deepEqual(r.value.spec.masking?.rules?.map((x) => x.keep), [4, 2]);
  assert.deepEqual(r.value.spec.guardrails?.deny, [], 'an explicit empty list denies no class');
  assert.equal(r.value.spec.approval?.requiredApprovals, 1);
  assert.equal(r.value.spec.approval?.ttl, '15m');
  assert.equal(r.value.spec.audit?.results, 'digest');
});

test('an unknown enum value names the field and lists what is allowed', () => {
  expectErrors(policy({ masking: { rules: [{ columns: ['PATIENTS.SSN'], strategy: 'mask' }] } }), {
    'spec.masking.rules[0].strategy': /^must be one of: redact, partial, hash, null, year, zip3, email_domain, scrub \(got "mask"\)$/,
  });
  expectErrors(policy({ access: { statements: ['SELEKT'], tables: [{ name: 'PATIENTS', columns: ['*'] }] } }), {
    'spec.access.statements[0]': /must be one of: SELECT, INSERT, .*\(got "SELEKT"\)/,
  });
  expectErrors(policy({ masking: { detectors: ['ssn', 'passport'] } }), { 'spec.masking.detectors[1]': /must be one of: ssn, phone, email, mrn, date, ip, url, zip, credit_card/ });
  expectErrors(policy({ guardrails: { deny: ['drop'] } }), { 'spec.guardrails.deny[0]': /ddl, dml_without_where, dml, copy_into/ });
  expectErrors(policy({ audit: { results: 'all' } }), { 'spec.audit.results': /must be one of: masked, digest, none/ });
  expectErrors(policy({ warehouse: { type: 'postgres' } }), { 'spec.warehouse.type': /must be one of: snowflake, duckdb/ });
});

test('required fields, types and minimums', () => {
  const p = policy();
  delete (p.spec as Record<string, unknown>).subjects;
  expectErrors(p, { 'spec.subjects': /^required field is missing$/ });
  expectErrors(policy({ access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS', columns: ['*'] }], maxRows: 0 } }), {
    'spec.access.maxRows': /must be at least 1/,
  });
  expectErrors(policy({ access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS', columns: ['*'] }], maxRows: '100' } }), {
    'spec.access.maxRows': /must be an integer \(got string "100"\)/,
  });
  expectErrors(policy({ access: { statements: [], tables: [{ name: 'PATIENTS' }] } }), {
    'spec.access.statements': /must list at least 1 item$/,
    'spec.access.tables[0].columns': /required/,
  });
  expectErrors(policy({ approval: { requiredWhen: [{ rowsOver: 1 }], approvers: [{ kind: 'User', name: 'bob' }], requiredApprovals: 0 } }), {
    'spec.approval.requiredApprovals': /must be at least 1/,
  });
  expectErrors(policy({ approval: { requiredWhen: [{}], approvers: [{ kind: 'Group', name: 'privacy' }] } }), {
    'spec.approval.requiredWhen[0]': /must set at least one of: unmasked, rowsOver, statements, tables/,
  });
});

test('patterns are explained in words', () => {
  expectErrors(policy({ masking: { rules: [{ columns: ['SSN', '*.EMAIL', 'DB.PATIENTS.SSN'], strategy: 'redact' }] } }), {
    'spec.masking.rules[0].columns[0]': /must be TABLE\.COLUMN, or \*\.COLUMN .*\(got "SSN"\)/,
    'spec.masking.rules[0].columns[2]': /must be TABLE\.COLUMN/,
  });
  expectErrors(policy({ access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS; DROP', columns: ['*', 'first name'] }] } }), {
    'spec.access.tables[0].name': /must be TABLE, SCHEMA\.TABLE or DATABASE\.SCHEMA\.TABLE/,
    'spec.access.tables[0].columns[1]': /must be a column name/,
  });
  for (const ttl of ['15 minutes', '1d', '', 'm']) {
    expectErrors(policy({ approval: { ttl } }), { 'spec.approval.ttl': /must be a duration such as 15m, 1h30m or 90s/ });
  }
  for (const ttl of ['15m', '1h30m', '90s', '2h']) assert.ok(validateAccessPolicy(policy({ approval: { ttl } })).ok, ttl);
});

test('unknown fields are refused, as kubectl does with strict field validation', () => {
  expectErrors(policy({ maskin: {} }), { 'spec.maskin': /unknown field; allowed here: warehouse, subjects, access, masking, guardrails, approval, audit/ });
  expectErrors(policy({ access: { statements: ['SELECT'], tables: [{ name: 'T', columns: ['*'], colums: ['A'] }] } }), {
    'spec.access.tables[0].colums': /unknown field/,
  });
});

test('envelope: apiVersion, kind and metadata', () => {
  expectErrors(policy({}, { apiVersion: 'phigate.io/v1' }), { apiVersion: /must be phigate\.io\/v1alpha1/ });
  expectErrors(policy({}, { metadata: { name: 'Claims_2' } }), { 'metadata.name': /lowercase/ });
  expectErrors(policy({}, { metadata: { namespace: 'x' } }), { 'metadata.name': /required/ });
  expectErrors(policy({}, { metadata: { name: 'a', namespace: 'Team.A' } }), { 'metadata.namespace': /namespace name/ });
  assert.deepEqual(errorsOf('just a string'), [{ path: '', message: 'must be an AccessPolicy object (a YAML mapping)' }]);
});

test('list types: sets and map lists refuse duplicates', () => {
  expectErrors(policy({ access: { statements: ['SELECT', 'SELECT'], tables: [{ name: 'P', columns: ['*'] }, { name: 'P', columns: ['A'] }] } }), {
    'spec.access.statements[1]': /duplicate value "SELECT"/,
    'spec.access.tables[1]': /duplicate entry for name="P"/,
  });
  expectErrors(policy({ approval: { approvers: [{ kind: 'Group', name: 'x' }, { kind: 'Group', name: 'x' }] } }), {
    'spec.approval.approvers[1]': /duplicate entry for kind="Group", name="x"/,
  });
  assert.ok(validateAccessPolicy(policy({ approval: { approvers: [{ kind: 'Group', name: 'x' }, { kind: 'User', name: 'x' }] } })).ok);
});

// The CEL rules of the CRD, through their TypeScript twins.
test('CEL: the warehouse block must match the type', () => {
  expectErrors(policy({ warehouse: { type: 'snowflake' } }), { 'spec.warehouse.snowflake': /snowflake is required when type is snowflake/ });
  expectErrors(policy({ warehouse: { type: 'duckdb' } }), { 'spec.warehouse.duckdb': /duckdb is required when type is duckdb/ });
  expectErrors(policy({ warehouse: { type: 'duckdb', duckdb: { path: 'x' }, snowflake: { account: 'a', database: 'd', schema: 's', credentialsSecretRef: { name: 'c' } } } }), {
    'spec.warehouse.snowflake': /allowed only when type is snowflake/,
  });
  expectErrors(policy({ warehouse: { type: 'snowflake', snowflake: { account: 'a', database: 'd', schema: 's' } } }), {
    'spec.warehouse.snowflake.credentialsSecretRef': /required/,
  });
});

test('CEL: ServiceAccount subjects need a namespace, others must not have one', () => {
  expectErrors(policy({ subjects: [{ kind: 'ServiceAccount', name: 'coding-agent' }] }), { 'spec.subjects[0].namespace': /namespace is required for a ServiceAccount/ });
  expectErrors(policy({ subjects: [{ kind: 'Group', name: 'g', namespace: 'team-a' }] }), { 'spec.subjects[0].namespace': /only to ServiceAccount/ });
  expectErrors(policy({ subjects: [{ kind: 'ServiceAccount', name: 'system:serviceaccount:team-a:coding-agent', namespace: 'team-a' }] }), {
    'spec.subjects[0].name': /names the account alone/,
  });
  assert.ok(validateAccessPolicy(policy({ subjects: [{ kind: 'ServiceAccount', name: 'coding-agent', namespace: 'team-a' }, { kind: 'User', name: 'system:serviceaccount:x:y' }] })).ok);
});

test('CEL: approvers are required with requiredWhen; scrub needs detectors', () => {
  expectErrors(policy({ approval: { requiredWhen: [{ unmasked: ['PATIENTS.SSN'] }] } }), { 'spec.approval.approvers': /approvers must name at least one User or Group/ });
  expectErrors(policy({ masking: { rules: [{ columns: ['*.NOTES'], strategy: 'scrub' }] } }), { 'spec.masking.detectors': /detectors must list at least one detector/ });
  assert.ok(validateAccessPolicy(policy({ masking: { rules: [{ columns: ['*.NOTES'], strategy: 'scrub' }], detectors: ['ssn'] } })).ok);
});

test('CEL rules are not evaluated on an object that does not fit the schema, as in the API server', () => {
  // type "pg" would also fail "duckdb is allowed only when type is duckdb": a consequence, not news.
  expectErrors(policy({ warehouse: { type: 'pg', duckdb: { path: 'x' } } }), { 'spec.warehouse.type': /must be one of: snowflake, duckdb/ });
});

// ApprovalRequest ----------------------------------------------------------------------

function request(status?: Record<string, unknown>): ApprovalRequest {
  return {
    apiVersion: 'phigate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'claims-7f3a9c', namespace: 'team-a' },
    spec: {
      policyRef: { name: 'claims' },
      requester: { user: 'agent-1', groups: ['agents'], session: 's-1' },
      statement: { sql: 'SELECT ssn FROM patients', fingerprint: 'f00d', kind: 'SELECT' },
      reasons: ['unmasked PATIENTS.SSN'],
      approvers: [{ kind: 'Group', name: 'privacy-office' }],
      requiredApprovals: 1,
      expiresAt: '2026-11-24T10:15:00Z',
    },
    ...(status ? { status } : {}),
  } as ApprovalRequest;
}

function arErrors(obj: unknown, old?: ApprovalRequest): string[] {
  const r = validateApprovalRequest(obj, old);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('approval request: valid, with defaults, and checked field by field', () => {
  const r = request();
  delete (r.spec as Partial<typeof r.spec>).requiredApprovals;
  const v = validateApprovalRequest(r);
  assert.ok(v.ok);
  assert.equal(v.value.spec.requiredApprovals, 1);
  const bad = request({ phase: 'Waiting', decision: 'Yes', decidedBy: 'bob' });
  bad.spec.expiresAt = 'tomorrow';
  bad.spec.approvers = [];
  assert.deepEqual(arErrors(bad), [
    'spec.approvers: must list at least 1 item',
    'spec.expiresAt: must be an RFC 3339 time such as 2026-11-24T10:15:00Z (got "tomorrow")',
    'status.decision: must be one of: Approved, Denied (got "Yes")',
    'status.phase: must be one of: Pending, Approved, Denied, Expired, Executed (got "Waiting")',
  ]);
});

test('approval request: decidedBy is required with a decision', () => {
  assert.deepEqual(arErrors(request({ decision: 'Approved' })), ['status.decidedBy: decidedBy is required with decision; set it to your own username']);
});

test('approval request updates: spec immutable, decision write-once, final phases final, reviews append-only', () => {
  const old = request({ phase: 'Pending' });
  const changed = request({ phase: 'Pending' });
  changed.spec.justification = 'changed';
  assert.deepEqual(arErrors(changed, old), ['spec: spec is immutable; the gateway creates a new ApprovalRequest for a new statement']);

  const decided = request({ phase: 'Approved', decision: 'Approved', decidedBy: 'bob', reason: 'ok' });
  assert.deepEqual(arErrors(decided, old), [], 'the first decision is accepted');
  assert.deepEqual(arErrors(request({ phase: 'Denied', decision: 'Denied', decidedBy: 'bob' }), decided), ['status.decision: decision is write-once; it cannot be changed or removed']);
  assert.deepEqual(arErrors(request({ phase: 'Approved', decision: 'Approved', decidedBy: 'eve' }), decided), ['status.decidedBy: decidedBy is write-once; it cannot be changed or removed']);
  assert.deepEqual(arErrors(request({ phase: 'Approved' }), decided), [
    'status.decidedBy: decidedBy is write-once; it cannot be changed or removed',
    'status.decision: decision is write-once; it cannot be changed or removed',
  ]);

  const executed = request({ phase: 'Executed', decision: 'Approved', decidedBy: 'bob' });
  assert.deepEqual(arErrors(executed, decided), [], 'Approved → Executed is how an approval is used');
  assert.deepEqual(arErrors(decided, executed), ['status.phase: phases Denied, Expired and Executed are final']);

  const r1 = { user: 'bob', decision: 'Approved', at: '2026-11-24T10:00:00Z' };
  const r2 = { user: 'carol', decision: 'Approved', at: '2026-11-24T10:01:00Z' };
  assert.deepEqual(arErrors(request({ phase: 'Pending', reviews: [r1, r2] }), request({ phase: 'Pending', reviews: [r1] })), []);
  assert.deepEqual(arErrors(request({ phase: 'Pending', reviews: [r2] }), request({ phase: 'Pending', reviews: [r1] })), [
    'status.reviews: reviews are append-only; a review cannot be changed or removed',
  ]);
  assert.deepEqual(arErrors(request({ reviews: [r1, { ...r1, decision: 'Denied' }] })), [
    'status.reviews[1]: duplicate entry for user="bob" (already at [0]); merge the two entries',
  ]);
});

test('approval request: transition rules do not apply on create', () => {
  assert.deepEqual(arErrors(request({ phase: 'Executed', decision: 'Approved', decidedBy: 'bob' })), []);
});
