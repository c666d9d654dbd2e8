// The real `helm` binary for the chart tests: $PHIGATE_HELM if set, else the cache
// ~/.cache/phigate/helm/<version>/helm, else built there from Go modules (a module that
// requires helm.sh/helm/v3; about 2 minutes once on two cores). A clear error, never a skip,
// when neither a binary nor Go and its module proxy are available.
import { buildOnce } from './build-once.ts';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './cli.ts';

export const HELM_VERSION = 'v3.19.0';
/** helm 3.19.0 is built on client-go v0.34 (Kubernetes 1.34). */
const HELM_CLIENT_GO_MINOR = '34';
export const CHART = join(ROOT, 'charts', 'phigate');
/** The namespace the chart is installed into everywhere (README, install.yaml, tests). */
export const RELEASE_NAMESPACE = 'phigate-system';

export class HelmUnavailable extends Error {
  constructor(message: string) { super(message); this.name = 'HelmUnavailable'; }
}

export const helmCacheDir = () => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'phigate', 'helm', HELM_VERSION);

const executable = (p: string) => { try { accessSync(p, constants.X_OK); return statSync(p).isFile(); } catch { return false; } };

/** Path of a helm binary: found, or built and cached. */
export async function helmBinary(log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<string> {
  const env = process.env.PHIGATE_HELM;
  if (env) {
    if (executable(env)) return env;
    throw new HelmUnavailable(`PHIGATE_HELM=${env} is not an executable file; unset it to let the tests build helm ${HELM_VERSION} (needs Go), or point it at a helm 3 binary`);
  }
  const dir = helmCacheDir();
  const bin = join(dir, 'helm');
  await buildOnce(dir, () => executable(bin), () => buildHelm(bin, log));
  return bin;
}


async function buildHelm(bin: string, log: (m: string) => void): Promise<void> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new HelmUnavailable(
      `helm ${HELM_VERSION} is needed for the chart tests and was not found: set PHIGATE_HELM to a helm 3 binary, ` +
      `or install Go >= 1.24 so the tests can build it into ${bin} (about 2 minutes once)`);
  }
  const work = mkdtempSync(join(tmpdir(), 'phigate-build-helm-'));
  try {
    writeFileSync(join(work, 'go.mod'), `module phigatetesthelm\n\ngo 1.24.0\n\nrequire helm.sh/helm/v3 ${HELM_VERSION}\n`);
    writeFileSync(join(work, 'tools.go'), '//go:build tools\n\npackage tools\n\nimport _ "helm.sh/helm/v3/cmd/helm"\n');
    const t0 = Date.now();
    log(`building helm ${HELM_VERSION} from Go modules into ${bin}; this runs once and takes about 2 minutes`);
    await goRun(['mod', 'tidy'], work, 'go mod tidy (needs the Go module proxy, or a module cache that holds the helm modules)');
    const tmp = `${bin}.tmp-${process.pid}`;
    // As helm's own Makefile does: its version, and the Kubernetes version of its client-go
    // (1.34 for helm 3.19) as the default that `helm template` and `helm lint` assume.
    const ldflags = [
      `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
      ...['pkg/chartutil', 'pkg/lint/rules'].flatMap((p) => [`-X helm.sh/helm/v3/${p}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${p}.k8sVersionMinor=${HELM_CLIENT_GO_MINOR}`]),
    ].join(' ');
    await goRun(['build', '-trimpath', '-ldflags', ldflags, '-o', tmp, 'helm.sh/helm/v3/cmd/helm'], work, 'go build helm');
    renameSync(tmp, bin);
    log(`built helm in ${Math.round((Date.now() - t0) / 1000)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function goRun(args: string[], cwd: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('go', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => { err += d; if (err.length > 20_000) err = err.slice(-10_000); });
    p.on('error', (e) => reject(new HelmUnavailable(`${what}: ${e.message}`)));
    p.on('close', (code) => code === 0 ? resolve() : reject(new HelmUnavailable(`${what} failed (exit ${code}); cannot build helm ${HELM_VERSION}. Set PHIGATE_HELM to a helm 3 binary to skip the build.\n${err.slice(-3000)}`)));
  });
}

export interface HelmResult { status: number | null; stdout: string; stderr: string }

export interface Helm {
  bin: string;
  /** Run helm; never blocks the event loop. */
  run(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number; input?: string }): Promise<HelmResult>;
  /** Like run but throws with stderr when helm fails. */
  ok(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number; input?: string }): Promise<string>;
  /** `helm template phigate charts/phigate -n phigate-system ...extra`, parsed into objects. */
  template(extra?: string[]): Promise<{ text: string; objects: any[] }>;
}

export async function helm(): Promise<Helm> {
  const bin = await helmBinary();
  // Keep helm's own config and cache out of the user's home (and repositories out of the way).
  const home = mkdtempSync(join(tmpdir(), 'phigate-helm-home-'));
  process.once('exit', () => rmSync(home, { recursive: true, force: true }));
  const baseEnv = {
    ...process.env,
    HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data'),
  };
  const run: Helm['run'] = (args, o = {}) => new Promise((resolve) => {
    const p = spawn(bin, args, { cwd: ROOT, env: { ...baseEnv, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => { stdout += d; });
    p.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    p.on('error', (e) => { clearTimeout(timer); resolve({ status: -1, stdout, stderr: `${stderr}${e.message}` }); });
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    p.stdin!.end(o.input ?? '');
  });
  const ok: Helm['ok'] = async (args, o) => {
    const r = await run(args, o);
    if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const template: Helm['template'] = async (extra = []) => {
    const text = await ok(['template', 'phigate', CHART, '--namespace', RELEASE_NAMESPACE, ...extra]);
    return { text, objects: parseObjects(text) };
  };
  return { bin, run, ok, template };
}

/** Every object of a multi-document YAML text (empty documents dropped). */
export function parseObjects(text: string): any[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
    return d.toJS();
  }).filter((o) => o && typeof o === 'object');
}

export const objectKey = (o: any) => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;

/**
 * What manifests/install.yaml should be, as a proposal for the operator's generator: the
 * chart's defaults rendered by helm with its CRDs, after the namespace it installs into.
 */
export async function installFromChart(h: Helm): Promise<string> {
  const rendered = await h.ok(['template', 'phigate', CHART, '--namespace', RELEASE_NAMESPACE, '--include-crds']);
  return [
    '# phigate install manifest: `helm template phigate charts/phigate --namespace phigate-system --include-crds`',
    '# after the namespace. Apply with: kubectl apply --server-side -f manifests/install.yaml',
    '---',
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${RELEASE_NAMESPACE}`,
    '  labels:',
    '    app.kubernetes.io/name: phigate',
    '    app.kubernetes.io/part-of: phigate',
    rendered.trimEnd(),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// The chart's values, as the README documents them

export interface ValueRow { path: string; type: string; default: unknown; description: string }

/** Every documented value: the schema's leaves (objects the schema closes are opened up), with values.yaml's default. */
export function chartValues(schema: any, values: any): ValueRow[] {
  const rows: ValueRow[] = [];
  const walk = (s: any, v: any, path: string) => {
    if (s.type === 'object' && s.additionalProperties === false && s.properties) {
      // `global` is Helm's own (for parent charts), not one of this chart's values.
      for (const [k, sub] of Object.entries(s.properties)) if (path || k !== 'global') walk(sub, v?.[k], path ? `${path}.${k}` : k);
      return;
    }
    const type = s.type ? [s.type].flat().join(' or ') : s.anyOf ? s.anyOf.map((a: any) => a.type).join(' or ') : 'any';
    rows.push({ path, type: s.enum ? s.enum.map((e: string) => JSON.stringify(e)).join(' \\| ') : type, default: v, description: s.description ?? '' });
  };
  walk(schema, values, '');
  return rows;
}

/** The README's values table (Markdown), generated from values.schema.json and values.yaml. */
export function chartValuesTable(schema: any, values: any): string {
  const fmt = (v: unknown) => {
    if (v === undefined) return '';
    const s = JSON.stringify(v);
    return `\`${s.length > 60 ? `${s.slice(0, 57)}...` : s}\``.replace(/\|/g, '\\|');
  };
  return [
    '| Value | Type | Default | Description |',
    '|---|---|---|---|',
    ...chartValues(schema, values).map((r) => `| \`${r.path}\` | ${r.type} | ${fmt(r.default)} | ${r.description.replace(/\|/g, '\\|')} |`),
  ].join('\n');
}
