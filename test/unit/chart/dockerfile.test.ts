// The Dockerfile, without a Docker engine: the rules that matter (hadolint's and ours) checked
// on its instructions, and its entrypoint run the way the image runs it: the files its COPY
// lines take (and .dockerignore lets through), production dependencies only (package-lock's
// non-dev packages, what `npm ci --omit=dev` installs), as uid 65532 when the tests run as
// root, with a read-only application directory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/cli.ts';
import { CHART } from '../../helpers/helm.ts';
import { GATEWAY_PORT } from '../../../src/controller/accesspolicy/render.ts';

interface Instruction { op: string; args: string; line: number }

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buf && (line === '' || line.startsWith('#'))) return;
    if (buf && line.startsWith('#')) return;
    if (!buf) start = i + 1;
    buf += (buf ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      const m = /^(\S+)\s*(.*)$/.exec(buf)!;
      out.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: start });
      buf = '';
    }
  });
  return out;
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const ins = instructions(dockerfile);
const stages = () => {
  const s: Instruction[][] = [];
  for (const i of ins) { if (i.op === 'FROM') s.push([]); if (s.length) s[s.length - 1]!.push(i); }
  return s;
};
const finalStage = () => stages().at(-1)!;
const argDefault = (name: string) => ins.find((i) => i.op === 'ARG' && i.args.startsWith(`${name}=`))?.args.slice(name.length + 1);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The sources of the final stage's COPY lines from the build context (not --from). */
const contextCopies = () => finalStage().filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))
  .flatMap((i) => { const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--')); return parts.slice(0, -1).map((src) => ({ src, dest: parts.at(-1)! })); });

/** Is `path` sent in the build context under an allow-list .dockerignore (`*` then `!path`)? */
function contextIncludes(path: string): boolean {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let included = true;
  for (const r of rules) {
    const negate = r.startsWith('!');
    const pat = (negate ? r.slice(1) : r).replace(/\/$/, '');
    const matches = pat === '*' || path === pat || path.startsWith(`${pat}/`);
    if (matches) included = negate;
  }
  return included;
}

describe('Dockerfile rules', () => {
  it('is multi-stage on a pinned Node 20 LTS base (an exact release, never latest)', () => {
    const froms = ins.filter((i) => i.op === 'FROM');
    assert.ok(froms.length >= 2, 'a dependencies stage and a runtime stage');
    const base = argDefault('NODE_IMAGE');
    assert.ok(base, 'ARG NODE_IMAGE names the base');
    assert.match(base!, /^node:20\.\d+\.\d+-[a-z]+(-slim)?(@sha256:[a-f0-9]{64})?$/, `${base} is an exact Node 20 release`);
    for (const f of froms) {
      assert.doesNotMatch(f.args, /:latest\b/);
      assert.match(f.args, /^(\$\{NODE_IMAGE\}|node:20\.\d+\.\d+\S*)( AS \w+)?$/i, `FROM ${f.args} (line ${f.line}) uses the pinned base`);
    }
    assert.ok(Number(pkg.engines.node.replace(/[^\d.]/g, '').split('.')[0]) <= 20, 'package.json allows Node 20');
  });

  it('installs production dependencies only, from the lockfile', () => {
    const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.args);
    assert.ok(runs.some((r) => /\bnpm ci\b[^&]*--omit=dev/.test(r)), 'npm ci --omit=dev');
    assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'no npm install (it may change the lockfile)');
    assert.ok(ins.some((i) => i.op === 'COPY' && /package-lock\.json/.test(i.args)), 'the lockfile is copied before npm ci');
  });

  it('never ADDs (no remote URLs, no archives unpacked by surprise), no sudo, no apt-get without --no-install-recommends', () => {
    assert.deepEqual(ins.filter((i) => i.op === 'ADD').map((i) => `line ${i.line}: ADD ${i.args}`), []);
    for (const r of ins.filter((i) => i.op === 'RUN')) {
      assert.doesNotMatch(r.args, /\bsudo\b/);
      assert.doesNotMatch(r.args, /\b(curl|wget)\b/, `line ${r.line}: nothing is downloaded outside npm ci`);
      if (/apt-get install/.test(r.args)) assert.match(r.args, /--no-install-recommends/);
    }
  });

  it('runs as a non-root user, the uid the chart and the rendered gateways expect', () => {
    const users = finalStage().filter((i) => i.op === 'USER');
    assert.ok(users.length > 0, 'the runtime stage sets USER');
    const last = users.at(-1)!.args;
    assert.match(last, /^\d+(:\d+)?$/, 'a numeric uid, so runAsNonRoot can verify it');
    const uid = Number(last.split(':')[0]);
    assert.notEqual(uid, 0);
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    assert.equal(uid, values.controller.podSecurityContext.runAsUser);
    assert.equal(uid, values.gateway.podSecurityContext.runAsUser);
    const lastUserAt = finalStage().lastIndexOf(users.at(-1)!);
    assert.ok(!finalStage().slice(lastUserAt).some((i) => i.op === 'RUN'), 'nothing runs as root after USER');
    assert.ok(finalStage().some((i) => i.op === 'ENV' && /HOME=\/home\/phigate/.test(i.args)), 'HOME is set (os.homedir() for a uid)');
  });

  it('has the phigate entrypoint in exec form, and ports and health checks documented', () => {
    const ep = finalStage().filter((i) => i.op === 'ENTRYPOINT').at(-1);
    assert.ok(ep);
    assert.deepEqual(JSON.parse(ep!.args), ['node', '/app/bin/phigate.mjs']);
    const expose = finalStage().filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
    assert.ok(expose.includes(GATEWAY_PORT), `EXPOSE ${GATEWAY_PORT} (gateway)`);
    assert.ok(expose.includes(8080), 'EXPOSE 8080 (serve/demo, controller metrics)');
    assert.ok(finalStage().some((i) => i.op === 'HEALTHCHECK'), 'HEALTHCHECK is stated (NONE: Kubernetes probes)');
    assert.match(dockerfile, /\/healthz/);
    assert.match(dockerfile, /\/readyz/);
  });

  it('copies only what the program reads, every source is in the build context, nothing else is', () => {
    const copies = contextCopies().map((c) => c.src.replace(/\/$/, ''));
    assert.deepEqual([...copies].sort(), ['bin/phigate.mjs', 'crds', 'manifests/examples', 'package-lock.json', 'package.json', 'src']);
    for (const c of copies) {
      assert.ok(existsSync(join(ROOT, c)), `${c} exists`);
      assert.ok(contextIncludes(c), `.dockerignore lets ${c} into the build context`);
    }
    for (const p of ['node_modules', 'test', '.git', '.cache', 'charts', 'README.md', 'tsconfig.json', 'manifests/install.yaml']) {
      assert.ok(!contextIncludes(p), `.dockerignore keeps ${p} out of the build context`);
    }
  });
});

describe('the image\'s entrypoint, run outside a container', () => {
  const ENTRY = ['node', '/app/bin/phigate.mjs'];

  it('answers --help, controller --help and gateway --help from the image\'s files with production dependencies only', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'phigate-image-'));
    try {
      // /app: the runtime stage's COPY lines.
      const app = join(root, 'app');
      for (const { src } of contextCopies()) {
        const from = join(ROOT, src);
        const to = join(app, src.replace(/\/$/, ''));
        mkdirSync(dirname(to), { recursive: true });
        cpSync(from, to, { recursive: true });
      }
      // /app/node_modules: what `npm ci --omit=dev` installs from the lockfile (hard links from ours).
      const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
      let prod = 0;
      let dev = 0;
      for (const [path, meta] of Object.entries<any>(lock.packages)) {
        if (!path.startsWith('node_modules/')) continue;
        if (meta.dev) { dev++; continue; }
        const from = join(ROOT, path);
        if (!existsSync(from)) continue; // an optional package for another platform
        const to = join(app, path);
        if (existsSync(to)) continue;
        mkdirSync(dirname(to), { recursive: true });
        const r = spawnSync('cp', ['-al', from, to]);
        if (r.status !== 0) cpSync(from, to, { recursive: true });
        prod++;
      }
      assert.ok(dev > 0 && !existsSync(join(app, 'node_modules', 'typescript')), 'dev dependencies are left out');
      // A writable HOME and temp dir (tsx's cache), as the image's /home/phigate and the pods' /tmp volume.
      const home = join(root, 'home');
      const tmp = join(root, 'tmp');
      mkdirSync(home);
      mkdirSync(tmp);
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        for (const d of [home, tmp]) chownSync(d, 65532, 65532);
        chmodSync(root, 0o755);
        spawnSync('chmod', ['-R', 'a+rX', app]);
        assert.equal(statSync(app).uid, 0, 'the application files belong to root: uid 65532 cannot write them');
      }
      const run = (args: string[]) => spawnSync(process.execPath, [ENTRY[1]!.replace('/app', app), ...args], {
        cwd: app, encoding: 'utf8', timeout: 60_000,
        env: { PATH: process.env.PATH, NODE_ENV: 'production', HOME: home, TMPDIR: tmp, PHIGATE_CACHE_DIR: join(root, 'cache') },
        ...(asRoot ? { uid: 65532, gid: 65532 } : {}),
      });
      const help = run(['--help']);
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /Usage: phigate/);
      for (const cmd of ['serve', 'demo', 'gateway', 'controller', 'audit', 'approve']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`), `phigate --help lists ${cmd}`);
      const controller = run(['controller', '--help']);
      assert.equal(controller.status, 0, controller.stderr);
      assert.match(controller.stdout, /--metrics-bind-address/);
      assert.match(controller.stdout, /--gateway-image/);
      const gateway = run(['gateway', '--help']);
      assert.equal(gateway.status, 0, gateway.stderr);
      assert.match(gateway.stdout, /--config/);
      t.diagnostic(`${prod} production packages, ${dev} dev-only packages left out; ran as ${asRoot ? 'uid 65532 with /app owned by root' : `uid ${process.getuid?.()} (not root: no uid switch)`}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
