// The operator under test as real processes: `phigate controller` started with the test
// control plane's kubeconfig, and the install manifest applied with the real kubectl.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT } from './cli.ts';
import { waitFor, type ControlPlane } from './controlplane.ts';

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

export async function startController(cp: ControlPlane, args: string[] = []): Promise<ControllerProcess> {
  const proc = spawn(process.execPath, [BIN, 'controller', '--metrics-bind-address', '127.0.0.1:0', ...FAST_LEASE, ...args], {
    cwd: ROOT, env: { ...process.env, KUBECONFIG: cp.kubeconfig, PHIGATE_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'],
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
