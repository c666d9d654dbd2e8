// Cluster mode (`phigate gateway`): the shared gateway (server.ts) fed from the cluster. It
// watches its own namespace's AccessPolicies and the Secrets they name (each by name: the
// gateway's Role grants those and no other) and serves changes without a restart; a policy
// that fails to load keeps its last good version in service (or none, if it never loaded:
// fail closed) and says why in the policy's status (condition Loaded, owned
// by this field manager; the controller owns Valid and Ready). Agents authenticate with
// TokenReview, or with an OIDC JWT when an issuer is configured; approvals are
// ApprovalRequest resources in the namespace, read from a watch that has synced before the
// gateway serves (agents poll pending statements: the API server sees one watch, not a read
// per poll). Every request to the API server is counted in phigate_kube_api_requests_total.
import type { Logger } from 'winston';
import type { AccessPolicy, SecretObject } from '../api/types.ts';
import { API_VERSION, GROUP, VERSION } from '../api/types.ts';
import { formatFieldErrors, validateAccessPolicy } from '../api/validate.ts';
import { KubernetesApprovalStore } from '../approvals/kubernetes.ts';
import type { LineSink } from '../audit/writer.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { isNotFound, refOf } from '../kube/client.ts';
import { rfc3339 } from '../kube/conditions.ts';
import { Informer } from '../kube/informer.ts';
import { NamedWatch } from '../kube/named-watch.ts';
import { referencedSecrets } from '../api/secret-refs.ts';
import type { ServedPolicy } from './pipeline.ts';
import { READ_ONLY_KINDS, startGatewayCore, type RunningGateway } from './server.ts';
import type { Authenticator } from './auth.ts';
import { chainAuthenticators, oidcAuthenticator, type OidcOptions } from './oidc.ts';
import { tokenReviewAuthenticator } from './tokenreview.ts';

export const GATEWAY_FIELD_MANAGER = 'phigate-gateway';

export interface ClusterGatewayOptions {
  client: KubeClient;
  namespace: string;
  port: number;
  host: string;
  audience: string;
  cacheDir?: string;
  log: Logger;
  auditSink?: LineSink;
  auditStream?: string;
  /** Also accept JWTs from this identity provider (tokens naming its issuer are decided by OIDC alone). */
  oidc?: OidcOptions;
}

export interface RunningClusterGateway extends RunningGateway {
  /** Policy name → generation being served. */
  servedGenerations(): Map<string, number>;
}

type PolicyObject = AccessPolicy & KubeObject;
type SecretResource = SecretObject & KubeObject;

export async function startClusterGateway(o: ClusterGatewayOptions): Promise<RunningClusterGateway> {
  const { client, namespace, log } = o;
  const informerLog = (level: 'info' | 'warn' | 'debug', m: string) => log.log(level, m);
  const approvalStore = new KubernetesApprovalStore(client, namespace, { log: informerLog });
  let authenticate: Authenticator = tokenReviewAuthenticator(client, { audience: o.audience, namespace, log: (m) => log.info(m) });
  if (o.oidc) {
    authenticate = chainAuthenticators(oidcAuthenticator(o.oidc, { log: (m) => log.info(m) }), authenticate);
    log.info(`OIDC login: issuer ${o.oidc.issuerUrl}, audience ${o.oidc.audience}`);
  }
  const core = await startGatewayCore({
    port: o.port, host: o.host, cacheDir: o.cacheDir, log, auditSink: o.auditSink, auditStream: o.auditStream,
    authenticate,
    approvalStore,
    approvalSweepMs: 0, // the controller expires requests
  });
  client.onRequest = (r) => core.metrics.kubeApiRequests.inc({ verb: r.verb, resource: r.resource, code: r.code });
  const policies = new Informer<PolicyObject>(client, { resource: { group: GROUP, version: VERSION, plural: 'accesspolicies', namespace }, log: informerLog });
  const secrets = new NamedWatch<SecretResource>(client, { resource: { group: '', version: 'v1', plural: 'secrets', namespace }, onChange: () => schedule(), log: informerLog });

  // What is served, per policy name: the version that loaded, and what it was loaded from.
  const current = new Map<string, { fingerprint: string; generation: number; served: ServedPolicy }>();
  const reported = new Map<string, string>(); // policy → last Loaded condition written (reason|message|generation)

  const reload = async () => {
    const live = policies.list().filter((p) => !p.metadata.deletionTimestamp);
    await secrets.want(live.flatMap(referencedSecrets));
    const secretList = secrets.list();
    const unreadable = new Set(secrets.unsynced());
    const readOnly = live.every((p) => p.spec.access.statements.every((s) => READ_ONLY_KINDS.has(s)));
    for (const name of [...current.keys()]) if (!live.some((p) => p.metadata.name === name)) { current.delete(name); reported.delete(name); }
    for (const p of live) {
      const name = p.metadata.name;
      const fingerprint = `${p.metadata.uid}|${p.metadata.generation}|${secretVersions(p, secretList, unreadable)}`;
      if (current.get(name)?.fingerprint === fingerprint) continue;
      let condition: { status: 'True' | 'False'; reason: string; message: string };
      try {
        const v = validateAccessPolicy(p);
        if (!v.ok) throw new Error(formatFieldErrors(v.errors).replace(/\n/g, '; '));
        const waiting = referencedSecrets(p).filter((n) => unreadable.has(n));
        // Not "missing": the Role naming it may simply not be written yet. The watch retries.
        if (waiting.length) throw new Error(`cannot read Secret ${waiting.map((n) => `${namespace}/${n}`).join(', ')} yet (the controller grants the gateway each Secret a policy names; if this persists, check Role ${namespace}/phigate-gateway)`);
        const served = await core.compile(v.value, secretList, readOnly, `AccessPolicy ${namespace}/${name}`);
        current.set(name, { fingerprint, generation: p.metadata.generation ?? 0, served });
        condition = { status: 'True', reason: 'Loaded', message: `generation ${p.metadata.generation} is served` };
        log.info(`serving AccessPolicy ${namespace}/${name} generation ${p.metadata.generation}`);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        const kept = current.get(name);
        condition = {
          status: 'False', reason: 'LoadFailed',
          message: `generation ${p.metadata.generation} could not be loaded: ${why}${kept ? `; still serving generation ${kept.generation}` : '; the policy is not served'}`,
        };
        log.warn(`AccessPolicy ${namespace}/${name}: ${condition.message}`);
      }
      await report(p, condition);
    }
    core.serve([...current.values()].map((c) => c.served));
  };

  const report = async (p: PolicyObject, c: { status: 'True' | 'False'; reason: string; message: string }) => {
    const key = `${c.status}|${c.reason}|${c.message}`;
    if (reported.get(p.metadata.name) === key) return;
    try {
      await client.apply(refOf(p, 'status'), {
        apiVersion: API_VERSION, kind: 'AccessPolicy', metadata: { name: p.metadata.name, namespace },
        status: { conditions: [{ type: 'Loaded', ...c, observedGeneration: p.metadata.generation, lastTransitionTime: rfc3339(new Date()) }] },
      }, GATEWAY_FIELD_MANAGER);
      reported.set(p.metadata.name, key);
    } catch (e) {
      if (!isNotFound(e)) log.warn(`could not report the Loaded condition of AccessPolicy ${namespace}/${p.metadata.name}: ${String(e)}`);
    }
  };

  // Changes arrive in bursts (a policy and its Secret applied together): coalesce, and never
  // run two reloads at once.
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (running) { again = true; return; }
      running = reload().catch((e) => { log.error(`reloading policies failed: ${String(e)}`); }).finally(() => {
        running = undefined;
        if (again) { again = false; schedule(); }
      });
    }, 100);
  };

  const loaded = (async () => {
    policies.start();
    // Serving (reload below makes the gateway ready) waits for the approvals cache too.
    await Promise.all([policies.waitForSync(), approvalStore.start()]);
    await reload();
    policies.on(schedule);
    log.info(`watching AccessPolicies and ApprovalRequests of namespace ${namespace} and the Secrets the policies name`);
  })();
  loaded.catch(() => {});

  return {
    url: core.url, server: core.server, metrics: core.metrics, loaded,
    servedGenerations: () => new Map([...current].map(([k, v]) => [k, v.generation])),
    async close() {
      if (timer) clearTimeout(timer);
      await Promise.all([policies.stop(), secrets.stop()]);
      await running;
      await core.close();
      await approvalStore.stop();
    },
  };
}

/** The resourceVersions of the Secrets a policy names: a changed Secret reloads the policy. */
function secretVersions(p: AccessPolicy, secrets: SecretResource[], unreadable: Set<string>): string {
  return referencedSecrets(p).map((n) => `${n}@${unreadable.has(n) ? '?' : secrets.find((s) => s.metadata.name === n)?.metadata.resourceVersion ?? '-'}`).join(',');
}
