// The controller process: metrics and probes first, then leader election, then (only while
// leading) the informers and the two controllers. A replica that loses the lease stops
// acting at once and exits, so a restarted process starts again from a clean list.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'winston';
import type { AccessPolicy, ApprovalRequest } from '../api/types.ts';
import { GROUP, VERSION } from '../api/types.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { Informer } from '../kube/informer.ts';
import { ControllerMetrics } from '../metrics/controller.ts';
import { accessPolicyController } from './accesspolicy/controller.ts';
import { MANAGED_SELECTOR, type RenderOptions } from './accesspolicy/render.ts';
import { approvalRequestController } from './approvalrequest/controller.ts';
import { LeaderElector } from './leader.ts';
import type { Controller } from './runtime.ts';

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  leaderElection: { enabled: boolean; namespace: string; name: string; leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  metrics: { host: string; port: number };
  render: RenderOptions;
  approvalRetentionMs: number;
  /** AccessPolicies are looked at again this often (a safety net: changes arrive by watch). */
  resyncMs: number;
  watchTimeoutSeconds?: number;
  /** Called when leadership is lost; the CLI exits. */
  onLost: (reason: string) => void;
}

export interface RunningManager {
  metricsUrl: string;
  identity: string;
  stop(): Promise<void>;
}

export async function startManager(o: ManagerOptions): Promise<RunningManager> {
  const metrics = new ControllerMetrics();
  const leaseName = o.leaderElection.name;
  metrics.leaderElectionMasterStatus.set({ name: leaseName }, 0);
  let informers: Informer<any>[] = [];
  let controllers: Controller[] = [];
  let synced = false;

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then((text) => { res.writeHead(200, { 'Content-Type': metrics.registry.contentType }); res.end(text); },
        (e) => { res.writeHead(500); res.end(String(e)); });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok');
    } else if (path === '/readyz') {
      // A standby is ready (it is doing its job: waiting); a leader once its caches are full.
      const ok = !elector?.isLeader() || synced;
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }); res.end(ok ? 'ok' : 'caches not synced');
    } else {
      res.writeHead(404); res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.metrics.port, o.metrics.host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  const metricsUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  o.log.info(`metrics and probes on ${metricsUrl} (/metrics, /healthz, /readyz)`);

  let elector: LeaderElector | undefined;
  const identity = o.leaderElection.enabled ? undefined : 'leader-election-disabled';
  const recorderLog = (m: string) => o.log.warn(m);

  const startControllers = async (id: string) => {
    const informerLog = (level: 'info' | 'warn' | 'debug', m: string) => o.log.log(level, m);
    const watch = { watchTimeoutSeconds: o.watchTimeoutSeconds, log: informerLog };
    const policies = new Informer<AccessPolicy & KubeObject>(o.client, { resource: { group: GROUP, version: VERSION, plural: 'accesspolicies' }, resyncMs: o.resyncMs, ...watch });
    const deployments = new Informer(o.client, { resource: { group: 'apps', version: 'v1', plural: 'deployments' }, labelSelector: MANAGED_SELECTOR, ...watch });
    const requests = new Informer<ApprovalRequest & KubeObject>(o.client, { resource: { group: GROUP, version: VERSION, plural: 'approvalrequests' }, ...watch });
    // Metadata only: the controller learns that a Secret a policy names appeared or changed
    // without ever caching a Secret's contents (sync reads the one it checks).
    const secrets = new Informer(o.client, { resource: { group: '', version: 'v1', plural: 'secrets' }, metadataOnly: true, ...watch });
    informers = [policies, deployments, requests, secrets];
    const recorder = new EventRecorder(o.client, 'phigate-controller', id, recorderLog);
    controllers = [
      accessPolicyController({ client: o.client, policies, deployments, secrets, recorder, metrics, log: o.log, render: o.render }),
      approvalRequestController({ client: o.client, requests, recorder, metrics, log: o.log, retentionMs: o.approvalRetentionMs }),
    ];
    for (const i of informers) i.start();
    await Promise.all(informers.map((i) => i.waitForSync()));
    synced = true;
    o.log.info(`caches synced: ${policies.list().length} AccessPolicies, ${requests.list().length} ApprovalRequests, ${deployments.list().length} gateway Deployments`);
    for (const c of controllers) c.start();
  };

  let stopping = false;
  if (o.leaderElection.enabled) {
    elector = new LeaderElector(o.client, { ...o.leaderElection }, o.log, (leading) => metrics.leaderElectionMasterStatus.set({ name: leaseName }, leading ? 1 : 0));
    void elector.acquire((reason) => {
      o.log.error(`leader election lost: ${reason}; stopping`);
      for (const c of controllers) void c.stop();
      for (const i of informers) void i.stop();
      if (!stopping) o.onLost(reason);
    }).then(() => { if (elector!.isLeader() && !stopping) return startControllers(elector!.identity); })
      .catch((e) => o.onLost(`could not start controllers: ${String(e)}`));
  } else {
    metrics.leaderElectionMasterStatus.set({ name: leaseName }, 1);
    await startControllers(identity!);
  }

  return {
    metricsUrl,
    identity: elector?.identity ?? identity!,
    async stop() {
      stopping = true;
      await Promise.all(controllers.map((c) => c.stop()));
      await Promise.all(informers.map((i) => i.stop()));
      await elector?.stop();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
