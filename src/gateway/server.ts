// Standalone gateway: load YAML, open warehouses, compile policies, serve HTTP. The HTTP
// server starts first so /healthz answers and /readyz says "not ready" while the demo dataset
// is generated or a warehouse opens.
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
import { staticTokenAuthenticator } from './auth.ts';
import { createApp } from './http.ts';
import { Pipeline, type ServedPolicy } from './pipeline.ts';
import { readTokenFile, type TokenIdentity } from './tokenfile.ts';
import { ApprovalService } from '../approvals/service.ts';
import { MemoryApprovalStore } from '../approvals/store.ts';

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

const READ_ONLY_KINDS = new Set(['SELECT', 'SHOW', 'DESCRIBE', 'EXPLAIN']);

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const { log } = opts;
  // Fail fast on what a person can fix before anything listens.
  const manifests = await loadManifests(opts.files);
  for (const ig of manifests.ignored) log.info(`ignored ${ig.kind}${ig.name ? ` ${ig.name}` : ''} in ${ig.source} (document ${ig.document}): ${ig.reason}`);
  if (manifests.policies.length === 0) throw new Error(`no AccessPolicy found in ${opts.files.join(', ')}: phigate serves nothing without one`);
  const tokens = new Map(opts.tokens ?? []);
  if (opts.tokenAuthFile) for (const [t, id] of await readTokenFile(opts.tokenAuthFile)) tokens.set(t, id);
  if (tokens.size === 0) throw new Error('no agent credentials: pass --token-auth-file FILE (token,user,uid,"group1,group2")');

  const metrics = new Metrics();
  const audit = new AuditWriter({ stream: opts.auditStream ?? defaultStreamName(), sink: opts.auditSink });
  let served: ServedPolicy[] = [];
  let ready = false;
  // Standalone approvals live in memory: a restart forgets pending requests (they fail closed).
  const approvals = new ApprovalService(new MemoryApprovalStore(), audit, metrics);
  const sweeper = setInterval(() => { approvals.sweep().catch((e) => log.error(`approval expiry sweep failed: ${String(e)}`)); }, 1000);
  sweeper.unref();
  const pipeline = new Pipeline(() => served, audit, metrics, approvals);
  const app = createApp({ pipeline, approvals, metrics, authenticate: staticTokenAuthenticator(tokens), log, ready: () => ready });
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

  const loaded = (async () => {
    const readOnlyByKey = new Map<string, boolean>();
    for (const { policy } of manifests.policies) {
      const k = warehouseKey(policy.spec.warehouse);
      const ro = policy.spec.access.statements.every((s) => READ_ONLY_KINDS.has(s));
      readOnlyByKey.set(k, (readOnlyByKey.get(k) ?? true) && ro);
    }
    const next: ServedPolicy[] = [];
    for (const { policy, source } of manifests.policies) {
      const k = warehouseKey(policy.spec.warehouse);
      let wh = warehouses.get(k);
      if (!wh) {
        log.info(`opening ${policy.spec.warehouse.type} warehouse for policy ${policy.metadata.name}`);
        wh = await openWarehouse(policy.spec.warehouse, { readOnly: readOnlyByKey.get(k)!, cacheDir: opts.cacheDir, onProgress: (m) => log.info(m) });
        warehouses.set(k, wh);
      }
      const compiled = compilePolicy(policy, await wh.catalog(), { hashKey: hashKeyOf(policy, manifests.secrets) });
      for (const w of compiled.warnings) log.warn(`policy ${policy.metadata.name} (${source}): ${w}`);
      next.push({ compiled, warehouse: wh });
    }
    served = next;
    parse('SELECT 1'); // load the grammar now, not on the first agent's statement
    metrics.policiesLoaded.set(served.length);
    ready = true;
    log.info(`ready: ${served.length} polic${served.length === 1 ? 'y' : 'ies'} on ${url}`);
  })();
  loaded.catch(() => { /* the caller decides; keep unhandled-rejection noise away */ });

  return {
    url, server, metrics, loaded,
    async close() {
      clearInterval(sweeper);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      for (const wh of warehouses.values()) await wh.close();
    },
  };
}

function hashKeyOf(policy: AccessPolicy, secrets: SecretObject[]): string | undefined {
  const ref = policy.spec.masking?.hashKeySecretRef;
  if (!ref) return undefined;
  const ns = policy.metadata.namespace ?? 'default';
  const v = secretValue(secrets, ns, ref.name, 'hashKey');
  if (!v) throw new Error(`policy ${policy.metadata.name}: Secret ${ns}/${ref.name} with key hashKey not found; add it to the files given with -f`);
  return v;
}
