// `phigate controller`: the operator. Credentials come from KUBECONFIG (or --kubeconfig),
// else the in-cluster ServiceAccount.
import type { RenderOptions } from '../controller/accesspolicy/render.ts';
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { KubeClient } from '../kube/client.ts';
import { parseDuration } from '../policy/compile.ts';
import { startManager } from '../controller/manager.ts';
import { validateOidcOptions } from '../gateway/oidc-config.ts';
import { createLogger } from './log.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
export const DEFAULT_IMAGE = `ghcr.io/phigate/phigate:${VERSION}`;

const duration = (v: string) => {
  try { return parseDuration(v); } catch (e) { throw new InvalidArgumentError((e as Error).message); }
};
const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
};

/** host:port, :port (all interfaces, as controller-runtime) or a bare port (loopback). */
export function parseBindAddress(v: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('must be host:port, :port or port');
  const port = Number(m[2]);
  if (port > 65535) throw new InvalidArgumentError('port must be 0-65535');
  const host = m[1] === undefined ? '127.0.0.1' : m[1] === '' ? '0.0.0.0' : m[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

export function addControllerCommand(program: Command): void {
  program.command('controller')
    .description('Run the operator: one gateway per namespace with AccessPolicies (Deployment, Service, ServiceAccount, Role, RoleBinding, ConfigMap), policy status and Events, and the ApprovalRequest lifecycle (quorum, expiry, clean-up). Uses KUBECONFIG or the in-cluster ServiceAccount; several replicas elect one leader.')
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--no-leader-elect', 'act without a Lease (only for a single replica)')
    .option('--leader-election-namespace <ns>', 'namespace of the Lease', process.env.POD_NAMESPACE || 'phigate-system')
    .option('--leader-election-id <name>', 'name of the Lease', 'phigate-controller')
    .option('--lease-duration <duration>', 'how long a leader\'s lease lasts without renewal', duration, 15_000)
    .option('--renew-deadline <duration>', 'a leader that cannot renew within this stops leading', duration, 10_000)
    .option('--retry-period <duration>', 'how often candidates try and leaders renew', duration, 2_000)
    .option('--metrics-bind-address <addr>', 'where /metrics, /healthz and /readyz listen (host:port; :port for all interfaces)', parseBindAddress, { host: '127.0.0.1', port: 8080 })
    .option('--gateway-image <image>', 'container image of the gateways', process.env.PHIGATE_GATEWAY_IMAGE || DEFAULT_IMAGE)
    .option('--gateway-replicas <n>', 'replicas of each gateway Deployment', count, 1)
    .option('--approval-retention <duration>', 'keep ApprovalRequests this long after they expire', duration, 86_400_000)
    .option('--resync-period <duration>', 'look at every AccessPolicy again this often', duration, 300_000)
    .option('--log-format <format>', 'log format on stderr: text or json', 'text')
    .action(async (o) => {
      const log = createLogger(o.logFormat);
      let client: KubeClient;
      try {
        client = KubeClient.fromEnvironment({ kubeconfig: o.kubeconfig, context: o.context });
      } catch (e) {
        log.error(`phigate controller: ${(e as Error).message}`);
        process.exitCode = 1;
        setTimeout(() => process.exit(1), 100).unref();
        return;
      }
      log.info(`phigate controller ${VERSION} against ${client.server}`);
      const exit = (code: number) => setTimeout(() => process.exit(code), 100).unref();
      let manager: Awaited<ReturnType<typeof startManager>>;
      try {
        manager = await startManager({
          client, log,
          leaderElection: { enabled: o.leaderElect, namespace: o.leaderElectionNamespace, name: o.leaderElectionId, leaseDurationMs: o.leaseDuration, renewDeadlineMs: o.renewDeadline, retryPeriodMs: o.retryPeriod },
          metrics: o.metricsBindAddress,
          render: { image: o.gatewayImage, replicas: o.gatewayReplicas, version: VERSION, ...gatewayDefaults(process.env.PHIGATE_GATEWAY_DEFAULTS, log) },
          approvalRetentionMs: o.approvalRetention,
          resyncMs: o.resyncPeriod,
          onLost: () => { process.exitCode = 1; exit(1); },
        });
      } catch (e) {
        log.error(`phigate controller: ${(e as Error).message}`);
        process.exitCode = 1;
        exit(1);
        return;
      }
      const stop = (sig: string) => {
        log.info(`${sig}: shutting down`);
        manager.stop().finally(() => exit(0));
        setTimeout(() => process.exit(0), 5000).unref();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}

/**
 * The chart's gateway pod defaults (JSON in PHIGATE_GATEWAY_DEFAULTS). Malformed JSON stops
 * the controller: a typo must not silently drop a security context. So do OIDC settings that
 * could never work: every gateway would start and refuse every OIDC token.
 */
export function gatewayDefaults(json: string | undefined, log: { info(m: string): void }): Partial<RenderOptions> {
  if (!json) return {};
  let d: any;
  try { d = JSON.parse(json); } catch { throw new Error('PHIGATE_GATEWAY_DEFAULTS is not valid JSON (it is set by the Helm chart from gateway.* values)'); }
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw new Error('PHIGATE_GATEWAY_DEFAULTS must be a JSON object');
  const obj = (k: string) => (d[k] && typeof d[k] === 'object' && !Array.isArray(d[k]) ? d[k] : undefined);
  const pull = ['Always', 'IfNotPresent', 'Never'].includes(d.imagePullPolicy) ? d.imagePullPolicy : undefined;
  const defaults: Partial<RenderOptions> = { imagePullPolicy: pull, resources: obj('resources'), podSecurityContext: obj('podSecurityContext'), securityContext: obj('securityContext') };
  if (d.oidc !== undefined && d.oidc !== null) {
    const v = validateOidcOptions(d.oidc);
    if (!v.ok) {
      const value = (f: string) => (f === 'oidc' ? 'oidc' : `oidc.${f}`);
      const fix = [...new Set(v.errors.map((e) => value(e.field)))].join(', ');
      throw new Error(`PHIGATE_GATEWAY_DEFAULTS has unusable OIDC settings: ${v.errors.map((e) => `${value(e.field)} ${e.message}`).join('; ')}. `
        + `Fix the chart value(s) ${fix} (helm upgrade ... --set), or set oidc.enabled=false`);
    }
    defaults.oidc = v.value;
    log.info(`gateways accept OIDC tokens from ${v.value.issuerUrl} (audience ${v.value.audience}) as users ${v.value.usernamePrefix}<${v.value.usernameClaim}>`);
  }
  return defaults;
}
