// Validates AccessPolicy and ApprovalRequest objects against the CRD schemas, the way the
// API server would: the OpenAPI schema (via ajv, with the server's defaults applied), the
// x-kubernetes-list-type rules, and each x-kubernetes-validations CEL rule through a
// hand-written TypeScript twin. Standalone mode has no API server, so without this a policy
// that kubectl would refuse could still be served from a file.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isDeepStrictEqual } from 'node:util';
import { openAPISchema, type ApiKind, type CelRule, type OpenAPISchema } from './schema.ts';
import { API_VERSION, type AccessPolicy, type ApprovalRequest } from './types.ts';

/** One thing wrong with an object: where (`spec.access.tables[1].columns`) and what to do. */
export interface FieldError { path: string; message: string }

export type ValidationResult<T> =
  | { ok: true; value: T }
  | { ok: false; errors: FieldError[] };

/** Validates a policy and returns a copy with the API server's defaults applied. */
export function validateAccessPolicy(obj: unknown): ValidationResult<AccessPolicy> {
  return validate<AccessPolicy>('AccessPolicy', obj);
}

/**
 * Validates an approval request and returns a copy with defaults applied. Pass `old` when
 * `obj` replaces a stored request, so the transition rules (immutable spec, write-once
 * decision, final phases) hold outside a cluster too, e.g. in the in-memory approval store.
 */
export function validateApprovalRequest(obj: unknown, old?: ApprovalRequest): ValidationResult<ApprovalRequest> {
  return validate<ApprovalRequest>('ApprovalRequest', obj, old);
}

/** `path: message` lines, for logs and error messages. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path || '(object)'}: ${e.message}`).join('\n');
}

function validate<T>(kind: ApiKind, obj: unknown, old?: unknown): ValidationResult<T> {
  if (!isRecord(obj)) return { ok: false, errors: [{ path: '', message: `must be an ${kind} object (a YAML mapping)` }] };
  // A JSON copy: defaults are applied to it, not to the caller's object, and it holds what
  // the API server would see (no undefined members, Dates as strings).
  const value = toJson(obj);
  old = old === undefined ? undefined : toJson(old);
  const { ajvValidate, schema } = compiled(kind);
  const errors = envelopeErrors(kind, value);
  if (!ajvValidate(value)) errors.push(...(ajvValidate.errors ?? []).map(fromAjv));
  // Like the API server, evaluate the CEL rules only on an object that fits the schema: on
  // one that does not, they would report consequences of the errors already listed.
  kubernetesChecks(schema, value, old, '', errors, errors.length === 0);
  return errors.length ? { ok: false, errors: sortByPath(dedupe(errors)) } : { ok: true, value: value as T };
}

// ---------------------------------------------------------------------------------------
// The CEL rules' twins, keyed by the exact rule text in crds/*.yaml. A rule without a twin
// stops compilation below, so the CRDs and this file cannot drift apart silently.

type Twin = (self: unknown, oldSelf: unknown) => boolean;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const FINAL_PHASES = ['Denied', 'Expired', 'Executed'];

const CEL_TWINS: Record<string, Twin> = {
  // AccessPolicy spec.warehouse
  'self.type != "snowflake" || has(self.snowflake)': (s) => get(s, 'type') !== 'snowflake' || has(s, 'snowflake'),
  'self.type != "duckdb" || has(self.duckdb)': (s) => get(s, 'type') !== 'duckdb' || has(s, 'duckdb'),
  '!has(self.snowflake) || self.type == "snowflake"': (s) => !has(s, 'snowflake') || get(s, 'type') === 'snowflake',
  '!has(self.duckdb) || self.type == "duckdb"': (s) => !has(s, 'duckdb') || get(s, 'type') === 'duckdb',
  // AccessPolicy spec.subjects[*]
  'self.kind != "ServiceAccount" || has(self.namespace)': (s) => get(s, 'kind') !== 'ServiceAccount' || has(s, 'namespace'),
  'self.kind == "ServiceAccount" || !has(self.namespace)': (s) => get(s, 'kind') === 'ServiceAccount' || !has(s, 'namespace'),
  'self.kind != "ServiceAccount" || self.name.matches("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")': (s) =>
    get(s, 'kind') !== 'ServiceAccount' || typeof get(s, 'name') !== 'string' || SA_NAME.test(get(s, 'name') as string),
  // AccessPolicy spec.masking
  '!has(self.rules) || !self.rules.exists(r, r.strategy == "scrub") || (has(self.detectors) && size(self.detectors) > 0)': (s) =>
    !list(get(s, 'rules')).some((r) => get(r, 'strategy') === 'scrub') || list(get(s, 'detectors')).length > 0,
  // AccessPolicy spec.approval
  '!has(self.requiredWhen) || size(self.requiredWhen) == 0 || (has(self.approvers) && size(self.approvers) > 0)': (s) =>
    list(get(s, 'requiredWhen')).length === 0 || list(get(s, 'approvers')).length > 0,
  // ApprovalRequest spec
  'self == oldSelf': (s, o) => isDeepStrictEqual(s, o),
  // ApprovalRequest status
  '!has(self.decision) || has(self.decidedBy)': (s) => !has(s, 'decision') || has(s, 'decidedBy'),
  '!has(oldSelf.decision) || (has(self.decision) && self.decision == oldSelf.decision)': (s, o) =>
    !has(o, 'decision') || get(s, 'decision') === get(o, 'decision'),
  '!has(oldSelf.decidedBy) || (has(self.decidedBy) && self.decidedBy == oldSelf.decidedBy)': (s, o) =>
    !has(o, 'decidedBy') || get(s, 'decidedBy') === get(o, 'decidedBy'),
  '!has(oldSelf.reviews) || (has(self.reviews) && oldSelf.reviews.all(r, r in self.reviews))': (s, o) =>
    !has(o, 'reviews') || list(get(o, 'reviews')).every((r) => list(get(s, 'reviews')).some((x) => isDeepStrictEqual(x, r))),
  '!has(oldSelf.phase) || !(oldSelf.phase in ["Denied", "Expired", "Executed"]) || (has(self.phase) && self.phase == oldSelf.phase)': (s, o) =>
    !FINAL_PHASES.includes(get(o, 'phase') as string) || get(s, 'phase') === get(o, 'phase'),
};

/** Like CEL, a rule that mentions oldSelf is a transition rule: it runs only on updates. */
const isTransitionRule = (r: CelRule) => /\boldSelf\b/.test(r.rule);

/**
 * Walks schema and value together for what ajv does not know: list-type uniqueness and the
 * CEL rules. Old values are correlated the way the API server does it: through object
 * fields and map-list keys, never through list positions.
 */
function kubernetesChecks(schema: OpenAPISchema, value: unknown, old: unknown, path: string, errors: FieldError[], cel: boolean): void {
  if (Array.isArray(value)) {
    errors.push(...listTypeErrors(schema, value, path));
    const item = schema.items;
    if (item) value.forEach((v, i) => kubernetesChecks(item, v, correlate(schema, v, old), `${path}[${i}]`, errors, cel));
  } else if (isRecord(value) && schema.properties) {
    for (const [key, prop] of Object.entries(schema.properties)) {
      if (value[key] !== undefined) kubernetesChecks(prop, value[key], get(old, key), join(path, key), errors, cel);
    }
  }
  if (!cel) return;
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (isTransitionRule(rule) && old === undefined) continue;
    if (!twin(rule)(value, old)) {
      errors.push({ path: join(path, (rule.fieldPath ?? '').replace(/^\./, '')), message: rule.message ?? `must satisfy ${rule.rule}` });
    }
  }
}

function twin(rule: CelRule): Twin {
  const t = CEL_TWINS[rule.rule];
  if (!t) throw new Error(`CEL rule has no TypeScript twin in src/api/validate.ts: ${rule.rule}`);
  return t;
}

function correlate(schema: OpenAPISchema, item: unknown, oldList: unknown): unknown {
  const keys = schema['x-kubernetes-list-map-keys'];
  if (schema['x-kubernetes-list-type'] !== 'map' || !keys || !Array.isArray(oldList)) return undefined;
  return oldList.find((o) => keys.every((k) => get(o, k) === get(item, k)));
}

function listTypeErrors(schema: OpenAPISchema, list: unknown[], path: string): FieldError[] {
  const type = schema['x-kubernetes-list-type'];
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  if (type !== 'set' && type !== 'map') return [];
  const seen = new Map<string, number>();
  const errors: FieldError[] = [];
  list.forEach((item, i) => {
    const id = type === 'set' ? JSON.stringify(item) : JSON.stringify(keys.map((k) => get(item, k)));
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else if (type === 'set') errors.push({ path: `${path}[${i}]`, message: `duplicate value ${id} (already at [${first}]); list each value once` });
    else errors.push({ path: `${path}[${i}]`, message: `duplicate entry for ${keys.map((k) => `${k}=${JSON.stringify(get(item, k))}`).join(', ')} (already at [${first}]); merge the two entries` });
  });
  return errors;
}

// ---------------------------------------------------------------------------------------
// ajv: compiled once per kind from a copy of the CRD schema.

interface Compiled { ajvValidate: ValidateFunction; schema: OpenAPISchema }
const compiledByKind = new Map<ApiKind, Compiled>();

function compiled(kind: ApiKind): Compiled {
  let c = compiledByKind.get(kind);
  if (!c) {
    const schema = openAPISchema(kind);
    forEachRule(schema, twin); // fail at first use, not on the first object that reaches a rule
    c = { ajvValidate: ajv().compile(strictCopy(schema, true)), schema };
    compiledByKind.set(kind, c);
  }
  return c;
}

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance) return ajvInstance;
  const a = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
  // Kubernetes' extensions are handled by kubernetesChecks; ajv only has to accept them.
  for (const k of ['x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys',
    'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string']) a.addKeyword(k);
  a.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  a.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  a.addFormat('date-time', { type: 'string', validate: isRfc3339 });
  return (ajvInstance = a);
}

/**
 * The API server rejects unknown fields (kubectl's default strict field validation), so the
 * ajv copy closes every object that declares its properties. The root also requires the
 * fields every object has.
 */
function strictCopy(s: OpenAPISchema, root = false): OpenAPISchema {
  const out: OpenAPISchema & Record<string, unknown> = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, strictCopy(v)]));
    if (s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (s.items) out.items = strictCopy(s.items);
  if (root) out.required = [...new Set([...(s.required ?? []), 'apiVersion', 'kind', 'metadata'])];
  return out;
}

function forEachRule(s: OpenAPISchema, fn: (r: CelRule) => void): void {
  for (const r of s['x-kubernetes-validations'] ?? []) fn(r);
  for (const p of Object.values(s.properties ?? {})) forEachRule(p, fn);
  if (s.items) forEachRule(s.items, fn);
}

/** apiVersion, kind and metadata: the parts the CRD schema leaves to the API server itself. */
function envelopeErrors(kind: ApiKind, o: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  if (o.apiVersion !== undefined && o.apiVersion !== API_VERSION) errors.push({ path: 'apiVersion', message: `must be ${API_VERSION}` });
  if (o.kind !== undefined && o.kind !== kind) errors.push({ path: 'kind', message: `must be ${kind}` });
  const meta = o.metadata;
  if (!isRecord(meta)) return errors; // ajv reports a missing or mistyped metadata
  if (typeof meta.name !== 'string' || meta.name === '') errors.push({ path: 'metadata.name', message: 'required: every object needs a name' });
  else if (!DNS_SUBDOMAIN.test(meta.name) || meta.name.length > 253) errors.push({ path: 'metadata.name', message: HELP[DNS_SUBDOMAIN.source]! });
  if (meta.namespace !== undefined && (typeof meta.namespace !== 'string' || !DNS_LABEL.test(meta.namespace) || meta.namespace.length > 63)) {
    errors.push({ path: 'metadata.namespace', message: HELP[DNS_LABEL.source]! });
  }
  return errors;
}

// ---------------------------------------------------------------------------------------
// Turning ajv's errors into messages a person can act on.

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What each pattern in crds/*.yaml means, in words (a test checks none is missing). */
export const HELP: Record<string, string> = {
  [DNS_SUBDOMAIN.source]: 'must be a lowercase name of a-z, 0-9, "-" and ".", starting and ending with a letter or digit (at most 253 characters)',
  [DNS_LABEL.source]: 'must be a namespace name: lowercase a-z, 0-9 and "-", starting and ending with a letter or digit (at most 63 characters)',
  '^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$':
    'must be TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE, each part an unquoted identifier (letters, digits, _ and $, not starting with a digit)',
  '^(\\*|[A-Za-z_][A-Za-z0-9_$]*)$': 'must be a column name (letters, digits, _ and $, not starting with a digit), or "*" for every column',
  '^(\\*|[A-Za-z_][A-Za-z0-9_$]*)\\.[A-Za-z_][A-Za-z0-9_$]*$': 'must be TABLE.COLUMN, or *.COLUMN for that column in every table',
  '^([0-9]+(h|m|s))+$': 'must be a duration such as 15m, 1h30m or 90s (units h, m and s)',
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$':
    'must be a condition type such as Ready or example.com/Ready',
  '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$': 'must be a CamelCase reason such as GatewayAvailable',
};

function fromAjv(e: ErrorObject): FieldError {
  const path = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as OpenAPISchema;
  switch (e.keyword) {
    case 'required':
      return { path: join(path, String(p.missingProperty)), message: 'required field is missing' };
    case 'additionalProperties':
      return { path: join(path, String(p.additionalProperty)), message: `unknown field; allowed here: ${Object.keys(parent.properties ?? {}).join(', ')}` };
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')} (got ${show(e.data)})` };
    case 'type':
      return { path, message: `must be ${article(String(p.type))} (got ${describe(e.data)})` };
    case 'pattern':
      return { path, message: `${HELP[String(p.pattern)] ?? `must match ${String(p.pattern)}`} (got ${show(e.data)})` };
    case 'format':
      return { path, message: p.format === 'date-time' ? `must be an RFC 3339 time such as 2026-11-24T10:15:00Z (got ${show(e.data)})` : `must be a valid ${String(p.format)}` };
    case 'minimum': return { path, message: `must be at least ${String(p.limit)} (got ${show(e.data)})` };
    case 'maximum': return { path, message: `must be at most ${String(p.limit)} (got ${show(e.data)})` };
    case 'minItems': return { path, message: `must list at least ${plural(Number(p.limit), 'item')}` };
    case 'maxItems': return { path, message: `must list at most ${plural(Number(p.limit), 'item')}` };
    case 'minLength': return { path, message: p.limit === 1 ? 'must not be empty' : `must be at least ${plural(Number(p.limit), 'character')} long` };
    case 'maxLength': return { path, message: `must be at most ${plural(Number(p.limit), 'character')} long` };
    case 'minProperties': return { path, message: `must set at least one of: ${Object.keys(parent.properties ?? {}).join(', ')}` };
    default: return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

// ---------------------------------------------------------------------------------------
// Small helpers.

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function toJson<T>(v: T): T { return JSON.parse(JSON.stringify(v)) as T; }
function get(o: unknown, k: string): unknown { return isRecord(o) ? o[k] : undefined; }
function has(o: unknown, k: string): boolean { return get(o, k) !== undefined; }
function list(v: unknown): unknown[] { return Array.isArray(v) ? v : []; }
function join(path: string, key: string): string { return !key ? path : path ? `${path}.${key}` : key; }

/** `/spec/access/tables/1/columns` → `spec.access.tables[1].columns` */
function pointerToPath(pointer: string): string {
  return pointer.split('/').slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : join(acc, seg)), '');
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${show(v)}`;
}
function article(type: string): string {
  return ({ object: 'a mapping', array: 'a list', integer: 'an integer', string: 'a string', number: 'a number', boolean: 'true or false' } as Record<string, string>)[type] ?? type;
}
function plural(n: number, word: string): string { return `${n} ${word}${n === 1 ? '' : 's'}`; }

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => { const k = `${e.path}\0${e.message}`; return !seen.has(k) && !!seen.add(k); });
}

/** Errors grouped by field, in the order a person reads the YAML (tables[2] before tables[10]). */
function sortByPath(errors: FieldError[]): FieldError[] {
  return [...errors].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
function isRfc3339(s: string): boolean {
  return RFC3339.test(s) && !Number.isNaN(Date.parse(s));
}
