// The operator under test as real processes: `phigate controller` started with the test
// control plane's kubeconfig, `phigate gateway` as its namespace's gateway ServiceAccount, and
// the install manifest applied with the real kubectl.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from './cli.ts';
import { waitFor, type ControlPlane } from './controlplane.ts';
import { TEST_CACHE_DIR } from './gateway.ts';

export const INSTALL = join(ROOT, 'manifests', 'install.yaml');
export const PLUGIN_PATH = `${join(ROOT, 'bin')}:${process.env.PATH ?? ''}`;

/** CRDs, RBAC, the admission policy (and the controller Deployment, which never runs here: no kubelet). */
export async function installOperator(cp: ControlPlane): Promise<void> {
  await cp.kubectlOk(['apply', '--server-side', '-f', INSTALL]);
  // CRDs are served a moment after they are created.
  await waitFor('CRDs established', async () => (await cp.kubectl(['get', 'accesspolicies,approvalrequests', '-A'])).status === 0, 30_000);
}

export interface ControllerProcess {
  proc: ChildProcess;
  logs(): string;
  metricsUrl: string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  metrics(): Promise<string>;
  /** SIGTERM (clean: releases the lease) or SIGKILL (a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Short lease timings so hand-over tests take seconds; metrics on a free loopback port. */
export const FAST_LEASE = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];

/** `env`: more environment, e.g. PHIGATE_GATEWAY_DEFAULTS as the chart sets it. */
export async function startController(cp: ControlPlane, args: string[] = [], env: Record<string, string> = {}): Promise<ControllerProcess> {
  const proc = spawn(process.execPath, [BIN, 'controller', '--metrics-bind-address', '127.0.0.1:0', ...FAST_LEASE, ...args], {
    cwd: ROOT, env: { ...process.env, KUBECONFIG: cp.kubeconfig, PHIGATE_LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const waitForLog = (re: RegExp, timeoutMs = 30_000) => waitFor(`controller log ${re}`, async () => {
    if (proc.exitCode !== null) throw new Error(`controller exited (${proc.exitCode}): ${out.slice(-1500)}`);
    return re.exec(out) ?? undefined;
  }, timeoutMs, 100).catch((e) => { throw new Error(`${(e as Error).message}\n--- controller output\n${out.slice(-3000)}`); });
  const m = await waitForLog(/metrics and probes on (http:\/\/\S+)/);
  const metricsUrl = m[1]!;
  return {
    proc, metricsUrl, waitForLog,
    logs: () => out,
    metrics: async () => (await fetch(`${metricsUrl}/metrics`)).text(),
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
      if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await exited; }
    },
  };
}

export interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  /** The operational log (stderr). */
  log(): string;
  /** The audit records (stdout), one JSON line each. */
  audit(): string[];
}

let gatewayKubeconfigs = 0;

/**
 * `phigate gateway` for `namespace` as a local process, running with the phigate-gateway
 * ServiceAccount's token as in its pod, so the Role the controller rendered is all it has.
 * Waits for that RBAC, then for the gateway to be ready. `args`: more flags (--config, ...).
 */
export async function startGatewayProcess(cp: ControlPlane, namespace: string, args: string[] = []): Promise<GatewayProcess> {
  await waitFor('gateway RBAC rendered', async () => (await cp.kubectl(['get', 'rolebinding', 'phigate-gateway', '-n', namespace])).status === 0
    && (await cp.kubectl(['get', 'clusterrolebinding', `phigate-gateway-${namespace}`])).status === 0);
  const token = (await cp.kubectlOk(['create', 'token', 'phigate-gateway', '-n', namespace, '--duration', '1h'])).trim();
  const kubeconfig = join(cp.dir, `kubeconfig-gateway-${namespace}-${++gatewayKubeconfigs}`);
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: local, cluster: {server: "${cp.server}", insecure-skip-tls-verify: true}}]`,
    `users: [{name: gw, user: {token: ${token}}}]`,
    `contexts: [{name: gw, context: {cluster: local, user: gw, namespace: ${namespace}}}]`,
    'current-context: gw', '',
  ].join('\n'));
  const proc = spawn(process.execPath, [BIN, 'gateway', '--kubeconfig', kubeconfig, '--port', '0', '--cache-dir', TEST_CACHE_DIR, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { err += d; });
  const m = await waitFor('gateway ready', async () => {
    if (proc.exitCode !== null) throw new Error(`gateway exited: ${err}`);
    return /ready: \d+ polic(?:y|ies) on (http:\/\/\S+)/.exec(err) ?? undefined;
  }, 120_000).catch((e) => { proc.kill('SIGKILL'); throw new Error(`${(e as Error).message}\n${err}`); });
  return { proc, url: m[1]!, log: () => err, audit: () => out.split('\n').filter(Boolean) };
}

/** A metric's value from Prometheus text, matching every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total = (total ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
