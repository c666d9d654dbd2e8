// Reads the YAML that standalone mode serves from: AccessPolicies and the Secrets they refer
// to, from files and directories, the same objects `kubectl apply -f` would take. A policy
// that cannot be loaded stops the gateway (fail closed), so every problem is reported at
// once, each naming file, document, object and field.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { formatFieldErrors, validateAccessPolicy, type FieldError } from './validate.ts';
import { API_VERSION, GROUP, type AccessPolicy, type SecretObject } from './types.ts';

export interface LoadedPolicy { policy: AccessPolicy; source: string }

/** A document that was read but is not served, and why. */
export interface IgnoredDocument { source: string; document: number; kind: string; name?: string; reason: string }

export interface LoadedManifests {
  policies: LoadedPolicy[];
  secrets: SecretObject[];
  ignored: IgnoredDocument[];
}

/**
 * Everything wrong with the manifests, one problem per line of the message, each line
 * self-contained: `file (document N, Kind namespace/name): field.path: what is wrong`.
 */
export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

const DEFAULT_NAMESPACE = 'default';

/** Loads every YAML document under `paths` (files, or directories searched recursively). */
export async function loadManifests(paths: string[]): Promise<LoadedManifests> {
  const ctx: LoadContext = { out: { policies: [], secrets: [], ignored: [] }, problems: [], seen: new Map() };
  for (const file of await manifestFiles(paths, ctx.problems)) {
    (await readDocuments(file, ctx.problems)).forEach((doc, i) => {
      if (doc !== null && doc !== undefined) addDocument(doc, { source: file, document: i + 1 }, ctx); // skip empty documents
    });
  }
  if (ctx.problems.length) throw new ManifestError(ctx.problems);
  return ctx.out;
}

interface LoadContext {
  out: LoadedManifests;
  problems: string[];
  seen: Map<string, string>; // "Kind namespace/name" → where it was first defined
}

function addDocument(doc: unknown, where: { source: string; document: number }, ctx: LoadContext): void {
  const at = `${where.source} (document ${where.document}`;
  if (!isRecord(doc) || typeof doc.kind !== 'string' || typeof doc.apiVersion !== 'string') {
    ctx.problems.push(`${at}): not a Kubernetes object; expected a mapping with apiVersion and kind`);
    return;
  }
  const meta = isRecord(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : undefined;
  const id = `${doc.kind} ${typeof meta.namespace === 'string' ? meta.namespace : DEFAULT_NAMESPACE}/${name ?? '(no name)'}`;
  const report = (errors: readonly FieldError[]) => errors.forEach((e) => ctx.problems.push(`${at}, ${id}): ${formatFieldErrors([e])}`));
  const isDuplicate = () => {
    const first = ctx.seen.get(id);
    if (first) ctx.problems.push(`${at}, ${id}): defined twice; first at ${first}. Rename one of them or remove the copy`);
    else ctx.seen.set(id, `${at})`);
    return first !== undefined;
  };

  if (doc.kind === 'AccessPolicy' && doc.apiVersion.startsWith(`${GROUP}/`)) {
    const result = validateAccessPolicy(withNamespace(doc));
    if (!result.ok) report(result.errors);
    else if (!isDuplicate()) ctx.out.policies.push({ policy: result.value, source: where.source });
  } else if (doc.kind === 'Secret' && doc.apiVersion === 'v1') {
    const errors = secretErrors(doc);
    if (errors.length) report(errors);
    else if (!isDuplicate()) ctx.out.secrets.push(withNamespace(doc) as unknown as SecretObject);
  } else {
    const reason = doc.apiVersion === API_VERSION && doc.kind === 'ApprovalRequest'
      ? 'approvals are created by the gateway, not loaded from files'
      : `standalone mode reads only ${API_VERSION} AccessPolicy and v1 Secret`;
    ctx.out.ignored.push({ ...where, kind: `${doc.apiVersion}/${doc.kind}`, ...(name ? { name } : {}), reason });
  }
}

/** A Secret's keys and values, decoded: `data` is base64, `stringData` wins over it, as in the API server. */
export function decodeSecret(secret: SecretObject): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) values[k] = Buffer.from(v, 'base64').toString('utf8');
  return Object.assign(values, secret.stringData ?? {});
}

/** The value of one key of one Secret, or undefined when the Secret or key is not there. */
export function secretValue(secrets: readonly SecretObject[], namespace: string, name: string, key: string): string | undefined {
  const secret = secrets.find((s) => s.metadata.name === name && (s.metadata.namespace ?? DEFAULT_NAMESPACE) === namespace);
  return secret ? decodeSecret(secret)[key] : undefined;
}

// ---------------------------------------------------------------------------------------

/** Files to read, in a stable order: each path as given, directories expanded and sorted. */
async function manifestFiles(paths: string[], problems: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(code === 'ENOENT' ? `${path}: no such file or directory` : `${path}: cannot read (${code ?? String(err)})`);
      continue;
    }
    if (info.isDirectory()) files.push(...(await yamlFilesIn(path)));
    else files.push(path); // a file named explicitly is read whatever its extension (JSON is YAML too)
  }
  return files;
}

/**
 * *.yaml and *.yml below `dir`. Hidden entries are skipped: a ConfigMap mounted as a volume
 * keeps a second copy of every file under ..data and ..<timestamp>, which would otherwise
 * load each policy twice.
 */
async function yamlFilesIn(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await yamlFilesIn(path)));
    else if (/\.ya?ml$/i.test(e.name)) files.push(path);
  }
  return files;
}

/**
 * Parses every document of one file. YAML 1.1, as kubectl reads it (so `yes` and `on` are
 * booleans), except that timestamps stay strings as they do in Kubernetes objects.
 */
async function readDocuments(file: string, problems: string[]): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    problems.push(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return [];
  }
  const docs = parseAllDocuments(text, {
    version: '1.1',
    customTags: (tags) => tags.filter((t) => typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:timestamp'),
  });
  const list = Array.isArray(docs) ? docs : [docs]; // parseAllDocuments returns an EmptyStream for empty text
  const syntax = list.flatMap((d, i) => d.errors.map((e) => {
    const at = e.linePos?.[0];
    const line = at ? `line ${at.line}, column ${at.col}` : `document ${i + 1}`;
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    return `${file}: YAML syntax error at ${line}: ${what}`;
  }));
  if (syntax.length) {
    problems.push(syntax[0]!); // later errors in a file mostly follow from the first
    return [];
  }
  return list.map((d) => d.toJS({ maxAliasCount: 100 })); // bounds alias expansion ("billion laughs")
}

function secretErrors(doc: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  const meta = doc.metadata;
  if (!isRecord(meta) || typeof meta.name !== 'string' || meta.name === '') errors.push({ path: 'metadata.name', message: 'required field is missing' });
  for (const field of ['data', 'stringData'] as const) {
    const map = doc[field];
    if (map === undefined || map === null) continue;
    if (!isRecord(map)) { errors.push({ path: field, message: 'must be a mapping of key: value' }); continue; }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== 'string') errors.push({ path: `${field}.${k}`, message: 'must be a string (quote numbers and booleans)' });
      else if (field === 'data' && !isBase64(v)) errors.push({ path: `data.${k}`, message: 'is not valid base64; put plain text under stringData instead' });
    }
  }
  return errors;
}

function isBase64(s: string): boolean {
  const compact = s.replace(/\s+/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

/** Namespace defaults to "default", as kubectl's does without -n. */
function withNamespace(doc: Record<string, unknown>): Record<string, unknown> {
  if (!isRecord(doc.metadata) || doc.metadata.namespace !== undefined) return doc;
  return { ...doc, metadata: { ...doc.metadata, namespace: DEFAULT_NAMESPACE } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
