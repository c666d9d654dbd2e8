// The CRDs (crds/*.yaml) and the TypeScript types (src/api/types.ts) describe one API. These
// tests prove they agree on every field name, and that the CRDs have the shape the cluster
// and the validator rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCrd, openAPISchema, type ApiKind, type OpenAPISchema } from '../../../src/api/schema.ts';
import { HELP } from '../../../src/api/validate.ts';
import type {
  AccessPolicy, AccessPolicySpec, AccessPolicyStatus, ApprovalRequest, ApprovalRequestSpec,
  ApprovalRequestStatus, Condition,
} from '../../../src/api/types.ts';

// A KeyTree<T> names every field of T, nested objects as trees and scalars as `true`. The
// literals below are typed KeyTree<...>, so `tsc` (npm run typecheck) fails when a field is
// added to or removed from an interface without the same change here; the tests then compare
// these trees with the CRD schemas. Together: types ⇔ trees ⇔ schemas.
type Shape<T> = T extends readonly (infer E)[] ? Shape<E> : T extends object ? KeyTree<T> : true;
type KeyTree<T> = { [K in keyof T]-?: Shape<NonNullable<T[K]>> };

const condition: KeyTree<Condition> = {
  type: true, status: true, reason: true, message: true, lastTransitionTime: true, observedGeneration: true,
};
const approver = { kind: true, name: true } as const;

const accessPolicySpec: KeyTree<AccessPolicySpec> = {
  warehouse: {
    type: true,
    snowflake: { account: true, database: true, schema: true, warehouse: true, role: true, credentialsSecretRef: { name: true } },
    duckdb: { path: true, schema: true },
  },
  subjects: { kind: true, name: true, namespace: true },
  access: { statements: true, tables: { name: true, columns: true }, maxRows: true },
  masking: { rules: { columns: true, strategy: true, keep: true }, detectors: true, hashKeySecretRef: { name: true } },
  guardrails: { deny: true },
  approval: {
    requiredWhen: { unmasked: true, rowsOver: true, statements: true, tables: true },
    approvers: approver,
    requiredApprovals: true,
    ttl: true,
  },
  audit: { results: true },
};
const accessPolicyStatus: KeyTree<AccessPolicyStatus> = {
  observedGeneration: true, conditions: condition, gateway: { service: true },
};

const approvalRequestSpec: KeyTree<ApprovalRequestSpec> = {
  policyRef: { name: true },
  requester: { user: true, groups: true, session: true },
  statement: { sql: true, fingerprint: true, kind: true, tables: true, columns: true, unmask: true },
  reasons: true,
  justification: true,
  approvers: approver,
  requiredApprovals: true,
  expiresAt: true,
};
const approvalRequestStatus: KeyTree<ApprovalRequestStatus> = {
  phase: true, decision: true, decidedBy: true, reason: true,
  reviews: { user: true, decision: true, reason: true, at: true },
  conditions: condition,
};

// metadata is ObjectMeta, which the API server owns: the CRD schema leaves it open.
type Root<T> = Omit<KeyTree<T>, 'metadata'> & { metadata: 'opaque' };
const trees: Record<ApiKind, Root<AccessPolicy> | Root<ApprovalRequest>> = {
  AccessPolicy: { apiVersion: true, kind: true, metadata: 'opaque', spec: accessPolicySpec, status: accessPolicyStatus },
  ApprovalRequest: { apiVersion: true, kind: true, metadata: 'opaque', spec: approvalRequestSpec, status: approvalRequestStatus },
};

/** Every difference between a schema and a key tree, as readable lines. */
function differences(schema: OpenAPISchema, tree: unknown, path: string): string[] {
  const node = schema.type === 'array' && schema.items ? schema.items : schema;
  if (tree === 'opaque') return node.properties ? [`${path}: schema declares fields, types treat it as opaque`] : [];
  if (tree === true) return node.properties ? [`${path}: schema has fields ${Object.keys(node.properties)}, types have a scalar`] : [];
  const keys = Object.keys(tree as object);
  const props = node.properties ?? {};
  const out = [
    ...keys.filter((k) => !(k in props)).map((k) => `${path}.${k}: in types.ts, not in the CRD schema`),
    ...Object.keys(props).filter((k) => !keys.includes(k)).map((k) => `${path}.${k}: in the CRD schema, not in types.ts`),
  ];
  for (const k of keys) if (props[k]) out.push(...differences(props[k]!, (tree as Record<string, unknown>)[k], `${path}.${k}`));
  return out;
}

for (const kind of ['AccessPolicy', 'ApprovalRequest'] as const) {
  test(`${kind}: CRD schema and types.ts name the same fields`, () => {
    assert.deepEqual(differences(openAPISchema(kind), trees[kind], kind), []);
  });

  test(`${kind}: CRD is phigate.io/v1alpha1, namespaced, with status subresource and the phigate category`, () => {
    const crd = loadCrd(kind) as unknown as { spec: Record<string, any> };
    assert.equal(crd.spec.group, 'phigate.io');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.names.categories, ['phigate']);
    const [v] = crd.spec.versions;
    assert.equal(crd.spec.versions.length, 1);
    assert.deepEqual([v.name, v.served, v.storage], ['v1alpha1', true, true]);
    assert.deepEqual(v.subresources, { status: {} });
  });

  test(`${kind}: every pattern has a plain-words explanation for error messages`, () => {
    const patterns = collect(openAPISchema(kind), (s) => (s.pattern ? [s.pattern] : []));
    assert.ok(patterns.length > 0);
    assert.deepEqual(patterns.filter((p) => !HELP[p]), []);
  });

  test(`${kind}: a CEL rule iterates only bounded lists and strings (API server cost limits)`, () => {
    // Lists and strings under a node with rules must carry maxItems / maxLength.
    const unbounded = collect(openAPISchema(kind), (s, path) => (s['x-kubernetes-validations']
      ? collect(s, (n, p) => ((n.type === 'array' && n.maxItems === undefined) || (n.type === 'string' && n.maxLength === undefined && !n.enum && !n.format)) ? [`${path}${p}`] : [])
      : []));
    assert.deepEqual(unbounded, []);
  });
}

test('the comparison itself reports fields on either side only', () => {
  const schema: OpenAPISchema = { type: 'object', properties: { a: { type: 'string' }, b: { type: 'array', items: { type: 'object', properties: { c: { type: 'string' } } } } } };
  assert.deepEqual(differences(schema, { a: true, b: { d: true } }, 'X'), [
    'X.b.d: in types.ts, not in the CRD schema',
    'X.b.c: in the CRD schema, not in types.ts',
  ]);
});

test('printer columns and short names', () => {
  const cols = (k: ApiKind) => (loadCrd(k) as any).spec.versions[0].additionalPrinterColumns.map((c: any) => `${c.name}=${c.jsonPath}`);
  assert.deepEqual(cols('AccessPolicy'), [
    'Warehouse=.spec.warehouse.type', 'Ready=.status.conditions[?(@.type=="Ready")].status', 'Age=.metadata.creationTimestamp',
  ]);
  assert.deepEqual(cols('ApprovalRequest'), [
    'Requester=.spec.requester.user', 'Phase=.status.phase', 'Policy=.spec.policyRef.name', 'Expires=.spec.expiresAt', 'Age=.metadata.creationTimestamp',
  ]);
  assert.deepEqual(loadCrd('AccessPolicy').spec.names.shortNames, ['ap', 'apol']);
  assert.deepEqual(loadCrd('ApprovalRequest').spec.names.shortNames, ['ar', 'apr']);
});

test('enums in the schema are the unions in types.ts', () => {
  const ap = openAPISchema('AccessPolicy').properties!.spec!.properties!;
  const enumOf = (s: OpenAPISchema) => (s.type === 'array' ? s.items!.enum : s.enum);
  assert.deepEqual(enumOf(ap.masking!.properties!.rules!.items!.properties!.strategy!),
    ['redact', 'partial', 'hash', 'null', 'year', 'zip3', 'email_domain', 'scrub']);
  assert.deepEqual(enumOf(ap.masking!.properties!.detectors!),
    ['ssn', 'phone', 'email', 'mrn', 'date', 'ip', 'url', 'zip', 'credit_card']);
  assert.deepEqual(enumOf(ap.guardrails!.properties!.deny!),
    ['ddl', 'dml_without_where', 'dml', 'copy_into', 'grant', 'multi_statement', 'unparsed', 'session_change', 'external_access']);
  assert.deepEqual(enumOf(ap.audit!.properties!.results!), ['masked', 'digest', 'none']);
  assert.deepEqual(enumOf(ap.subjects!.items!.properties!.kind!), ['ServiceAccount', 'User', 'Group']);
  assert.deepEqual(enumOf(ap.warehouse!.properties!.type!), ['snowflake', 'duckdb']);
  const st = openAPISchema('ApprovalRequest').properties!.status!.properties!;
  assert.deepEqual(st.phase!.enum, ['Pending', 'Approved', 'Denied', 'Expired', 'Executed']);
  assert.deepEqual(st.decision!.enum, ['Approved', 'Denied']);
});

function collect(s: OpenAPISchema, fn: (s: OpenAPISchema, path: string) => string[], path = ''): string[] {
  return [
    ...fn(s, path),
    ...Object.entries(s.properties ?? {}).flatMap(([k, v]) => collect(v, fn, `${path}.${k}`)),
    ...(s.items ? collect(s.items, fn, `${path}[]`) : []),
  ];
}
