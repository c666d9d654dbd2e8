// The gateway's wiring, shared by both modes: HTTP server, pipeline, audit, metrics,
// approvals, and the warehouses and compiled policies it serves. What differs is passed in:
// how agents authenticate, where approvals live, and where policies come from. Standalone
// (`phigate serve`, startGateway below) reads YAML once, with static tokens and in-memory
// approvals; cluster mode (`phigate gateway`, cluster.ts) watches the namespace and uses
// TokenReview and ApprovalRequest resources. The HTTP server starts first so /healthz
// answers and /readyz says "not ready" while the demo dataset is generated or a warehouse opens.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'winston';
import { loadManifests, secretValue } from '../api/load.ts';
import type { AccessPolicy, SecretObject } from '../api/types.ts';
import { AuditWriter, defaultStreamName, type LineSink } from '../audit/writer.ts';
import { Metrics } from '../metrics/metrics.ts';
import { compilePolicy } from '../policy/compile.ts';
import { parse } from '../sql/analyse.ts';
import { openWarehouse, warehouseKey } from '../warehouse/open.ts';
import type { Warehouse } from '../warehouse/types.ts';
import { staticTokenAuthenticator, type Authenticator } from './auth.ts';
import { createApp } from './http.ts';
import { Pipeline, type ServedPolicy } from './pipeline.ts';
import { readTokenFile, type TokenIdentity } from './tokenfile.ts';
import { ApprovalService } from '../approvals/service.ts';
import { MemoryApprovalStore, type ApprovalStore } from '../approvals/store.ts';

export interface GatewayOptions {
  files: string[];
  port: number;
  host: string;
  tokenAuthFile?: string;
  /** Extra tokens (the demo's); merged with the token file. */
  tokens?: Map<string, TokenIdentity>;
  cacheDir?: string;
  log: Logger;
  auditSink?: LineSink;
  auditStream?: string;
}

export interface RunningGateway {
  url: string;
  server: Server;
  metrics: Metrics;
  /** Resolves once policies and warehouses are loaded; rejects with the reason start-up failed. */
  loaded: Promise<void>;
  close(): Promise<void>;
}

export const READ_ONLY_KINDS = new Set(['SELECT', 'SHOW', 'DESCRIBE', 'EXPLAIN']);

/** What a mode supplies to the shared gateway. */
export interface GatewayCoreOptions {
  port: number;
  host: string;
  cacheDir?: string;
  log: Logger;
  auditSink?: LineSink;
  auditStream?: string;
  authenticate: Authenticator;
  approvalStore: ApprovalStore;
  /** How often to expire due approvals (0: never, when a controller does it). Default 1 s. */
  approvalSweepMs?: number;
}

export interface GatewayCore {
  url: string;
  server: Server;
  metrics: Metrics;
  /** Open (or reuse) the policy's warehouse and compile the policy against its catalog. Throws what a person must fix. */
  compile(policy: AccessPolicy, secrets: readonly SecretObject[], readOnly: boolean, source: string): Promise<ServedPolicy>;
  /** Serve exactly these policies from now on; the first call makes the gateway ready. */
  serve(policies: ServedPolicy[]): void;
  close(): Promise<void>;
}

export async function startGatewayCore(opts: GatewayCoreOptions): Promise<GatewayCore> {
  const { log } = opts;
  const metrics = new Metrics();
  const audit = new AuditWriter({ stream: opts.auditStream ?? defaultStreamName(), sink: opts.auditSink });
  let served: ServedPolicy[] = [];
  let ready = false;
  const approvals = new ApprovalService(opts.approvalStore, audit, metrics);
  const sweepMs = opts.approvalSweepMs ?? 1000;
  const sweeper = sweepMs > 0 ? setInterval(() => { approvals.sweep().catch((e) => log.error(`approval expiry sweep failed: ${String(e)}`)); }, sweepMs) : undefined;
  sweeper?.unref();
  const pipeline = new Pipeline(() => served, audit, metrics, approvals);
  const app = createApp({ pipeline, approvals, metrics, authenticate: opts.authenticate, log, ready: () => ready, audit });
  const server = createServer(app);
  server.requestTimeout = 0; // long statements and approvals; the statement timeout governs
  // Agents poll pending statements over kept-alive connections; closing idle ones after Node's
  // 5 s default races clients that reuse them (the usual load-balancer advice: > 60 s).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const warehouses = new Map<string, Warehouse>();

  return {
    url, server, metrics,
    async compile(policy, secrets, readOnly, source) {
      const k = warehouseKey(policy.spec.warehouse, policy.metadata.namespace);
      let wh = warehouses.get(k);
      if (!wh) {
        log.info(`opening ${policy.spec.warehouse.type} warehouse for policy ${policy.metadata.name}`);
        wh = await openWarehouse(policy.spec.warehouse, { readOnly, cacheDir: opts.cacheDir, onProgress: (m) => log.info(m), secrets, namespace: policy.metadata.namespace });
        warehouses.set(k, wh);
      }
      const compiled = compilePolicy(policy, await wh.catalog(), { hashKey: hashKeyOf(policy, secrets) });
      for (const w of compiled.warnings) log.warn(`policy ${policy.metadata.name} (${source}): ${w}`);
      return { compiled, warehouse: wh };
    },
    serve(next) {
      served = next;
      if (!ready) parse('SELECT 1'); // load the grammar now, not on the first agent's statement
      metrics.policiesLoaded.set(served.length);
      if (!ready) log.info(`ready: ${served.length} polic${served.length === 1 ? 'y' : 'ies'} on ${url}`);
      ready = true;
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      for (const wh of warehouses.values()) await wh.close();
    },
  };
}

/** Standalone: policies and Secrets from YAML files, static bearer tokens, approvals in memory. */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const { log } = opts;
  // Fail fast on what a person can fix before anything listens.
  const manifests = await loadManifests(opts.files);
  for (const ig of manifests.ignored) log.info(`ignored ${ig.kind}${ig.name ? ` ${ig.name}` : ''} in ${ig.source} (document ${ig.document}): ${ig.reason}`);
  if (manifests.policies.length === 0) throw new Error(`no AccessPolicy found in ${opts.files.join(', ')}: phigate serves nothing without one`);
  const tokens = new Map(opts.tokens ?? []);
  if (opts.tokenAuthFile) for (const [t, id] of await readTokenFile(opts.tokenAuthFile)) tokens.set(t, id);
  if (tokens.size === 0) throw new Error('no agent credentials: pass --token-auth-file FILE (token,user,uid,"group1,group2")');

  // Standalone approvals live in memory: a restart forgets pending requests (they fail closed).
  const core = await startGatewayCore({ ...opts, authenticate: staticTokenAuthenticator(tokens), approvalStore: new MemoryApprovalStore() });

  const loaded = (async () => {
    const readOnlyByKey = new Map<string, boolean>();
    for (const { policy } of manifests.policies) {
      const k = warehouseKey(policy.spec.warehouse, policy.metadata.namespace);
      const ro = policy.spec.access.statements.every((s) => READ_ONLY_KINDS.has(s));
      readOnlyByKey.set(k, (readOnlyByKey.get(k) ?? true) && ro);
    }
    const next: ServedPolicy[] = [];
    for (const { policy, source } of manifests.policies) {
      const k = warehouseKey(policy.spec.warehouse, policy.metadata.namespace);
      next.push(await core.compile(policy, manifests.secrets, readOnlyByKey.get(k)!, source));
    }
    core.serve(next);
  })();
  loaded.catch(() => { /* the caller decides; keep unhandled-rejection noise away */ });

  return { url: core.url, server: core.server, metrics: core.metrics, loaded, close: () => core.close() };
}

function hashKeyOf(policy: AccessPolicy, secrets: readonly SecretObject[]): string | undefined {
  const ref = policy.spec.masking?.hashKeySecretRef;
  if (!ref) return undefined;
  const ns = policy.metadata.namespace ?? 'default';
  const v = secretValue(secrets, ns, ref.name, 'hashKey');
  if (!v) throw new Error(`policy ${policy.metadata.name}: Secret ${ns}/${ref.name} with key hashKey not found; add it to the files given with -f (standalone) or create it in namespace ${ns} (cluster)`);
  return v;
}
