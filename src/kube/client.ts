// A thin REST client over @kubernetes/client-node's KubeConfig: client-node loads the
// kubeconfig (or the in-cluster ServiceAccount), authenticates and configures TLS; this file
// sends JSON, maps failures to ApiError, and streams watches. The generated API classes are
// not used: phigate talks to a handful of paths, and one request function with typed errors
// is easier to read than a dozen generated signatures. client-node's Watch is not used either:
// it cannot be aborted before the server answers, and an informer's watchdog must be able to.
// Every request can be reported to an observer (verb, resource, status code; never a body or
// a credential), which is how the gateway counts its API requests without this folder
// importing the gateway's metrics.
import { KubeConfig } from '@kubernetes/client-node';
import { createInterface } from 'node:readline';
import { request as httpsRequest, type Agent, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface OwnerReference { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }
export interface KubeMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  generateName?: string;
}
export interface KubeObject { apiVersion: string; kind: string; metadata: KubeMeta; [k: string]: unknown }
export interface KubeList<T> { metadata: { resourceVersion: string; continue?: string }; items: T[] }

/** What the API server said, as a typed error: `status` is the HTTP code, `reason` the Status reason (NotFound, Conflict, Invalid, Forbidden, Expired...). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string, readonly body?: unknown) {
    super(message);
    this.name = 'ApiError';
  }
}
export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
export const isAlreadyExists = (e: unknown) => e instanceof ApiError && e.status === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown) => e instanceof ApiError && (e.status === 410 || e.reason === 'Expired' || e.reason === 'Gone');

/** A resource's REST path. `group` '' is the core API. */
export interface ResourceRef { group: string; version: string; plural: string; namespace?: string; name?: string; subresource?: string }
export function resourcePath(r: ResourceRef): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  let p = base;
  if (r.namespace) p += `/namespaces/${encodeURIComponent(r.namespace)}`;
  p += `/${r.plural}`;
  if (r.name) p += `/${encodeURIComponent(r.name)}`;
  if (r.subresource) p += `/${r.subresource}`;
  return p;
}

// Metadata-only reads (as controller-runtime's OnlyMetadata): the server sends
// PartialObjectMetadata, so a cache of, say, every Secret holds names and versions, never values.
export const METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/** One request as Kubernetes audit logs name it: verb (get, list, watch, create, update, patch, delete), resource (plural[/subresource]), HTTP status or "error". */
export interface KubeRequestInfo { verb: string; resource: string; code: string }
export type KubeRequestObserver = (r: KubeRequestInfo) => void;

/** The verb and resource of a request to `path` (a resourcePath, query string excluded). */
export function describeRequest(method: string, path: string, watch = false): { verb: string; resource: string } {
  const parts = path.split('/').filter(Boolean);
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [plural = '', name, sub] = rest;
  const verb = watch ? 'watch'
    : method === 'GET' ? (name ? 'get' : 'list')
    : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
  return { verb, resource: sub ? `${plural}/${sub}` : plural };
}

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';

/**
 * KUBECONFIG (or ~/.kube/config) when present, else the in-cluster ServiceAccount. Unlike
 * client-node's loadFromDefault, never falls back to http://localhost:8080 silently.
 */
export function loadKubeConfig(opts: { context?: string; kubeconfig?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else if (process.env.KUBECONFIG || existsSync(join(homedir(), '.kube', 'config'))) kc.loadFromDefault();
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else throw new Error('no Kubernetes credentials: set KUBECONFIG (or --kubeconfig), or run inside a cluster');
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new Error(`kubeconfig has no context ${opts.context}`);
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no current cluster');
  return kc;
}

export class KubeClient {
  private agent: Agent | undefined;
  /** Told about every request once it is answered (a watch: once the stream opens or fails). */
  onRequest: KubeRequestObserver | undefined;

  constructor(readonly config: KubeConfig, private readonly userAgent = 'phigate') {}

  static fromEnvironment(opts: { context?: string; kubeconfig?: string } = {}): KubeClient {
    return new KubeClient(loadKubeConfig(opts));
  }

  /** The current context's namespace (in cluster: the pod's), else "default". */
  get defaultNamespace(): string {
    return this.config.getContextObject(this.config.getCurrentContext())?.namespace || 'default';
  }

  get server(): string { return this.config.getCurrentCluster()!.server; }

  async request<T = any>(method: string, path: string, opts: { body?: unknown; contentType?: string; accept?: string; query?: Record<string, string | number | boolean | undefined>; timeoutMs?: number } = {}): Promise<T> {
    const url = new URL(this.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const { headers } = await this.requestHeaders();
    if (opts.accept) headers['Accept'] = opts.accept;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(url, { method, headers, agent: url.protocol === 'http:' ? undefined : this.agent, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer from ${url.host} within ${opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', reject);
      req.end(payload);
    }).then((r) => { this.observe(method, path, String(r.status)); return r; }, (e) => { this.observe(method, path, 'error'); throw e; });
    let json: any;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (status >= 200 && status < 300) return json as T;
    const reason = json?.reason ?? (status === 404 ? 'NotFound' : status === 409 ? 'Conflict' : 'Unknown');
    const message = json?.message ?? (text.slice(0, 300) || `HTTP ${status}`);
    throw new ApiError(status, reason, message, json);
  }

  get<T = KubeObject>(ref: ResourceRef): Promise<T> { return this.request<T>('GET', resourcePath(ref)); }

  /** The object, or undefined when it does not exist. */
  async find<T = KubeObject>(ref: ResourceRef): Promise<T | undefined> {
    try { return await this.get<T>(ref); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
  }

  /** `metadataOnly`: items are PartialObjectMetadata (no data, spec or status ever leaves the API server). */
  list<T = KubeObject>(ref: ResourceRef, query: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string; limit?: number; continue?: string } = {}, opts: { metadataOnly?: boolean } = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', resourcePath(ref), { query, accept: opts.metadataOnly ? METADATA_LIST_ACCEPT : undefined });
  }

  create<T = KubeObject>(ref: ResourceRef, body: unknown): Promise<T> { return this.request<T>('POST', resourcePath(ref), { body }); }

  /** PUT: fails with 409 Conflict when body.metadata.resourceVersion is stale. */
  replace<T = KubeObject>(ref: ResourceRef, body: unknown): Promise<T> { return this.request<T>('PUT', resourcePath(ref), { body }); }

  mergePatch<T = KubeObject>(ref: ResourceRef, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', resourcePath(ref), { body: patch, contentType: MERGE_PATCH });
  }

  /** Server-side apply: the object as `fieldManager` wants it; force takes fields over from other managers. */
  apply<T = KubeObject>(ref: ResourceRef, obj: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>('PATCH', resourcePath(ref), { body: obj, contentType: APPLY_PATCH, query: { fieldManager, force } });
  }

  /** Delete; true when it was there. `uid`/`resourceVersion` make it conditional (409 if changed). */
  async delete(ref: ResourceRef, precondition?: { uid?: string; resourceVersion?: string }): Promise<boolean> {
    try {
      await this.request('DELETE', resourcePath(ref), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(precondition ? { preconditions: precondition } : {}) } });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Watch `path`: `onEvent` gets each event (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) as it
   * arrives. `done` settles when the stream ends: resolves when the server closed it, rejects
   * on a network error or a non-200 answer (ApiError). `abort()` ends it at any moment.
   */
  watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (type: string, obj: any) => void, opts: { metadataOnly?: boolean } = {}): { done: Promise<void>; abort: () => void } {
    let aborted = false;
    let abort: () => void = () => { aborted = true; };
    const done = (async () => {
      const url = new URL(this.server.replace(/\/$/, '') + path);
      url.searchParams.set('watch', 'true');
      for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
      const { headers, agent } = await this.requestHeaders();
      if (opts.metadataOnly) headers['Accept'] = METADATA_ACCEPT;
      if (aborted) return;
      await new Promise<void>((resolve, reject) => {
        const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
        let answered = false;
        const req = send(url, { method: 'GET', headers, agent: url.protocol === 'http:' ? undefined : agent }, (res) => {
          answered = true;
          this.observe('GET', path, String(res.statusCode ?? 0), true);
          if (res.statusCode !== 200) {
            let text = '';
            res.on('data', (d) => { text += d; });
            res.on('end', () => {
              let json: any;
              try { json = JSON.parse(text); } catch { /* not JSON */ }
              reject(new ApiError(res.statusCode ?? 0, json?.reason ?? 'Unknown', json?.message ?? `watch ${path}: HTTP ${res.statusCode}`, json));
            });
            return;
          }
          const lines = createInterface({ input: res, crlfDelay: Infinity });
          lines.on('line', (line) => {
            if (!line.trim()) return;
            let ev: any;
            try { ev = JSON.parse(line); } catch { return; }
            onEvent(ev.type, ev.object);
          });
          // An aborted or broken stream ends the watch; the informer decides what follows.
          lines.on('error', reject);
          res.on('error', reject);
          res.on('close', () => resolve());
        });
        abort = () => { aborted = true; req.destroy(); resolve(); };
        req.on('error', (e) => { if (!answered && !aborted) this.observe('GET', path, 'error', true); reject(e); });
        req.end();
      });
    })();
    return { done, abort: () => abort() };
  }

  private observe(method: string, path: string, code: string, watch = false): void {
    if (!this.onRequest) return;
    try { this.onRequest({ ...describeRequest(method, path, watch), code }); } catch { /* an observer never breaks a request */ }
  }

  /** Authorization and TLS for one request (a rotated in-cluster token is re-read by client-node). */
  private async requestHeaders(): Promise<{ headers: Record<string, string>; agent: Agent | undefined }> {
    const ro: RequestOptions = { headers: {} };
    await this.config.applyToHTTPSOptions(ro);
    // One agent per client so connections are reused; the headers are per request.
    this.agent ??= ro.agent as Agent | undefined;
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    for (const [k, v] of Object.entries(ro.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (ro.auth) headers.Authorization = `Basic ${Buffer.from(ro.auth).toString('base64')}`;
    return { headers, agent: this.agent };
  }
}

/** Where objects of the kinds phigate writes live. */
const RESOURCES: Record<string, { group: string; version: string; plural: string; namespaced: boolean }> = {
  'v1/ServiceAccount': { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  'v1/ConfigMap': { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  'v1/Service': { group: '', version: 'v1', plural: 'services', namespaced: true },
  'v1/Secret': { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  'v1/Event': { group: '', version: 'v1', plural: 'events', namespaced: true },
  'apps/v1/Deployment': { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', namespaced: false },
  'coordination.k8s.io/v1/Lease': { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  'phigate.io/v1alpha1/AccessPolicy': { group: 'phigate.io', version: 'v1alpha1', plural: 'accesspolicies', namespaced: true },
  'phigate.io/v1alpha1/ApprovalRequest': { group: 'phigate.io', version: 'v1alpha1', plural: 'approvalrequests', namespaced: true },
};

/** The REST coordinates of `obj` (its apiVersion and kind must be one phigate writes). */
export function refOf(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }, subresource?: string): ResourceRef {
  const r = RESOURCES[`${obj.apiVersion}/${obj.kind}`];
  if (!r) throw new Error(`no resource mapping for ${obj.apiVersion} ${obj.kind}`);
  return { group: r.group, version: r.version, plural: r.plural, namespace: r.namespaced ? obj.metadata.namespace : undefined, name: obj.metadata.name, subresource };
}

export function resourceOf(apiVersion: string, kind: string, namespace?: string): ResourceRef {
  const r = RESOURCES[`${apiVersion}/${kind}`];
  if (!r) throw new Error(`no resource mapping for ${apiVersion} ${kind}`);
  return { group: r.group, version: r.version, plural: r.plural, namespace: r.namespaced ? namespace : undefined };
}
