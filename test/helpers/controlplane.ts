// A real Kubernetes control plane for integration tests: etcd + kube-apiserver on loopback,
// random free ports, a temp dir, token authentication for five users, RBAC on. No kubelet
// and no kube-controller-manager run, so nothing schedules Pods and nothing garbage-collects:
// what the phigate controller must delete, it deletes itself.
//
// Binaries: $KUBEBUILDER_ASSETS (a folder with kube-apiserver and etcd), else the cache
// ~/.cache/phigate/kube/<version>/, else built there from Go modules (about 7 minutes cold on
// two cores; a clear error if Go or the module proxy is unavailable). Never a non-loopback address.
import { buildOnce } from './build-once.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const KUBE_VERSION = 'v1.34.4';
export const ETCD_VERSION = 'v3.6.6';

/** The users of the token file: name in the kubeconfig → identity. */
export const USERS = {
  admin: { user: 'admin', groups: ['system:masters'] },
  bob: { user: 'bob@example.com', groups: ['privacy-office'] },
  carol: { user: 'carol@example.com', groups: ['privacy-office'] },
  agent: { user: 'agent-user', groups: ['agents'] },
  mallory: { user: 'mallory', groups: ['others'] },
} as const;
export type UserName = keyof typeof USERS;

export interface KubectlResult { status: number | null; stdout: string; stderr: string }

export interface ControlPlane {
  /** kubeconfig with one context per user (admin is current). */
  kubeconfig: string;
  server: string;
  dir: string;
  tokens: Record<UserName, string>;
  /** Run the real kubectl as `as` (a context of the kubeconfig). Never blocks the event loop. `plugin`: no
   * --context before the arguments (kubectl refuses flags before a plugin's name; pass it after). */
  kubectl(args: string[], opts?: { as?: UserName; input?: string; timeoutMs?: number; env?: Record<string, string>; plugin?: boolean }): Promise<KubectlResult>;
  /** Like kubectl but throws with stderr when it fails. */
  kubectlOk(args: string[], opts?: { as?: UserName; input?: string }): Promise<string>;
  /** A kubeconfig file whose current context is `as`. */
  kubeconfigFor(as: UserName): string;
  /** Logs of etcd and the apiserver so far, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Binaries

/** The 31 staging modules of k8s.io/kubernetes: its go.mod replaces them with ./staging/...,
 * which a module that requires k8s.io/kubernetes must replace with the published versions. */
const STAGING = [
  'api', 'apiextensions-apiserver', 'apimachinery', 'apiserver', 'cli-runtime', 'client-go', 'cloud-provider',
  'cluster-bootstrap', 'code-generator', 'component-base', 'component-helpers', 'controller-manager', 'cri-api',
  'cri-client', 'csi-translation-lib', 'dynamic-resource-allocation', 'endpointslice', 'externaljwt', 'kms',
  'kube-aggregator', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubectl', 'kubelet', 'metrics',
  'mount-utils', 'pod-security-admission', 'sample-apiserver', 'sample-cli-plugin', 'sample-controller',
];

export class BinariesUnavailable extends Error {
  constructor(message: string) { super(message); this.name = 'BinariesUnavailable'; }
}

const hasBoth = (d: string) => existsSync(join(d, 'kube-apiserver')) && existsSync(join(d, 'etcd'));
export const kubeCacheDir = () => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'phigate', 'kube', `${KUBE_VERSION}-etcd-${ETCD_VERSION}`);

/** A folder holding kube-apiserver and etcd: found, or built and cached. */
export async function kubeBinaries(log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<string> {
  const env = process.env.KUBEBUILDER_ASSETS;
  if (env) {
    if (hasBoth(env)) return env;
    throw new BinariesUnavailable(`KUBEBUILDER_ASSETS=${env} does not contain both kube-apiserver and etcd; unset it to let the tests build them (needs Go), or point it at a folder that has them`);
  }
  const cache = kubeCacheDir();
  await buildOnce(cache, () => hasBoth(cache), () => buildBinaries(cache, log));
  return cache;
}


async function buildBinaries(cache: string, log: (m: string) => void): Promise<void> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new BinariesUnavailable(
      'kube-apiserver and etcd are needed for the operator tests and were not found: set KUBEBUILDER_ASSETS to a folder ' +
      `that holds both (e.g. from setup-envtest), or install Go >= 1.24 so the tests can build them into ${cache} (about 7 minutes once)`);
  }
  const version = KUBE_VERSION.slice(1).split('.');
  const ldflags = [
    `-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION}`,
    `-X k8s.io/component-base/version.gitMajor=${version[0]}`,
    `-X k8s.io/component-base/version.gitMinor=${version[1]}`,
  ].join(' ');
  const staging = `v0.${version[1]}.${version[2]}`;
  const builds = [
    {
      name: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', ldflags: '',
      gomod: `module phigatetestetcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 ${ETCD_VERSION}\n`,
    },
    {
      name: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', ldflags,
      gomod: `module phigatetestkube\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes ${KUBE_VERSION}\n\n` +
        STAGING.map((m) => `replace k8s.io/${m} => k8s.io/${m} ${staging}\n`).join(''),
    },
  ];
  for (const b of builds) {
    const work = mkdtempSync(join(tmpdir(), `phigate-build-${b.name}-`));
    try {
      writeFileSync(join(work, 'go.mod'), b.gomod);
      writeFileSync(join(work, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport _ "${b.pkg}"\n`);
      const t0 = Date.now();
      log(`building ${b.name} (${b.pkg}) from Go modules into ${cache}; this runs once and takes minutes`);
      const tidy = await run('go', ['mod', 'tidy'], work);
      if (tidy.status !== 0) {
        throw new BinariesUnavailable(`could not resolve Go modules for ${b.name} (is the module proxy reachable? GOPROXY=${process.env.GOPROXY ?? 'default'}); ` +
          `or set KUBEBUILDER_ASSETS to a folder with kube-apiserver and etcd.\ngo mod tidy: ${tidy.stderr.slice(-1500)}`);
      }
      const out = join(cache, `.${b.name}.partial`);
      const built = await run('go', ['build', '-trimpath', '-ldflags', b.ldflags, '-o', out, b.pkg], work);
      if (built.status !== 0) throw new BinariesUnavailable(`go build ${b.pkg} failed:\n${built.stderr.slice(-1500)}`);
      renameSync(out, join(cache, b.name));
      log(`built ${b.name} in ${Math.round((Date.now() - t0) / 1000)} s`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

function run(cmd: string, args: string[], cwd: string, opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = opts.timeoutMs ? setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs) : undefined;
    p.on('error', (e) => { stderr += String(e); });
    p.on('close', (status) => { if (timer) clearTimeout(timer); resolve({ status, stdout, stderr }); });
    p.stdin.end(opts.input ?? '');
  });
}

// ---------------------------------------------------------------------------------------
// Start and stop

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bound and released; the kernel will not hand it out again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
process.on('exit', () => { for (const p of running) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

function startProcess(bin: string, args: string[], cwd: string, buf: string[]): ChildProcess {
  const p = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => { buf.push(d.toString()); if (buf.length > 400) buf.splice(0, 100); };
  p.stdout!.on('data', keep);
  p.stderr!.on('data', keep);
  running.add(p);
  p.on('exit', () => running.delete(p));
  return p;
}

function httpsGet(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function startControlPlane(opts: { log?: (m: string) => void } = {}): Promise<ControlPlane> {
  const bin = await kubeBinaries(opts.log);
  const dir = mkdtempSync(join(tmpdir(), 'phigate-kube-'));
  const tokens = Object.fromEntries(Object.keys(USERS).map((u) => [u, `${u}-${Math.random().toString(36).slice(2)}`])) as Record<UserName, string>;
  writeFileSync(join(dir, 'tokens.csv'), Object.entries(USERS).map(([name, u], i) =>
    `${tokens[name as UserName]},${u.user},${i + 1},"${u.groups.join(',')}"`).join('\n') + '\n');
  for (const args of [['genrsa', '-out', join(dir, 'sa.key'), '2048'], ['rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]]) {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${r.stderr ?? r.error}`);
  }
  const [apiPort, etcdPort, peerPort] = [await freePort(), await freePort(), await freePort()];
  const etcdLog: string[] = [];
  const apiLog: string[] = [];
  const etcd = startProcess(join(bin, 'etcd'), [
    '--data-dir', join(dir, 'etcd'), '--name', 'test',
    '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `test=http://127.0.0.1:${peerPort}`, '--unsafe-no-fsync', '--log-level', 'warn',
  ], dir, etcdLog);
  const api = startProcess(join(bin, 'kube-apiserver'), [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`, `--cert-dir=${join(dir, 'certs')}`, `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC', '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.0.0.0/24', '--v=0',
  ], dir, apiLog);
  const server = `https://127.0.0.1:${apiPort}`;
  const logs = () => `--- etcd\n${etcdLog.join('').slice(-2000)}\n--- kube-apiserver\n${apiLog.join('').slice(-3000)}`;

  const kubeconfig = join(dir, 'kubeconfig');
  const writeKubeconfig = (path: string, current: UserName) => writeFileSync(path, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: local, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
    `users: [${Object.keys(USERS).map((n) => `{name: ${n}, user: {token: ${tokens[n as UserName]}}}`).join(', ')}]`,
    `contexts: [${Object.keys(USERS).map((n) => `{name: ${n}, context: {cluster: local, user: ${n}, namespace: default}}`).join(', ')}]`,
    `current-context: ${current}`, '',
  ].join('\n'));
  writeKubeconfig(kubeconfig, 'admin');
  const kubeconfigFor = (as: UserName) => {
    const p = join(dir, `kubeconfig-${as}`);
    if (!existsSync(p)) writeKubeconfig(p, as);
    return p;
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const p of [api, etcd]) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => { p.kill('SIGKILL'); return exited; })]);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (api.exitCode !== null || etcd.exitCode !== null) {
      const l = logs();
      await stop();
      throw new Error(`the control plane exited during start-up:\n${l}`);
    }
    try {
      const r = await httpsGet(`${server}/readyz`, tokens.admin);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      const l = logs();
      await stop();
      throw new Error(`kube-apiserver was not ready within 60 s:\n${l}`);
    }
    await sleep(250);
  }

  const env = { ...process.env, KUBECONFIG: kubeconfig };
  const kubectl: ControlPlane['kubectl'] = (args, o = {}) =>
    run('kubectl', o.plugin ? args : ['--context', o.as ?? 'admin', ...args], dir, { env: { ...env, ...o.env }, input: o.input, timeoutMs: o.timeoutMs ?? 60_000 });
  const kubectlOk: ControlPlane['kubectlOk'] = async (args, o = {}) => {
    const r = await kubectl(args, o);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} (as ${o.as ?? 'admin'}) failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  return { kubeconfig, server, dir, tokens, kubectl, kubectlOk, kubeconfigFor, logs, stop };
}

/** Poll `probe` until it returns a truthy value; throw with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}
