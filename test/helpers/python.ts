// A cached Python virtualenv with the Snowflake-protocol peers the tests run against:
// snowflake-connector-python (an unmodified driver) and fakesnow (a Snowflake emulator).
// Created on first use under ~/.cache/phigate/py (or $PHIGATE_PY_VENV); later runs reuse it.
// If PyPI cannot be reached the tests that need it fail with a message that says so.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildOnce } from './build-once.ts';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the venv holds. fakesnow 0.12 fails to import with connector 5.x (TOOLCHAIN.md). */
export const PY_REQUIREMENTS = ['snowflake-connector-python<5', 'fakesnow[server]==0.12.1'];

export const VENV_DIR = process.env.PHIGATE_PY_VENV ?? join(homedir(), '.cache', 'phigate', 'py');
export const VENV_PYTHON = join(VENV_DIR, 'bin', 'python');
const MARKER = join(VENV_DIR, 'phigate-requirements.json');

let ready: Promise<string> | undefined;

/** The venv's python, creating the venv if needed (about two minutes cold). */
export function ensureVenv(): Promise<string> {
  ready ??= create();
  return ready;
}

async function create(): Promise<string> {
  const want = JSON.stringify(PY_REQUIREMENTS);
  const ready = () => existsSync(MARKER) && readFileSync(MARKER, 'utf8') === want && existsSync(VENV_PYTHON);
  // The lock sits beside the venv: building starts by removing the venv folder.
  await buildOnce(VENV_DIR, ready, build, `${VENV_DIR}.lock`);
  return VENV_PYTHON;
}

async function build(): Promise<void> {
  rmSync(VENV_DIR, { recursive: true, force: true });
  const python = process.env.PYTHON ?? 'python3';
  try {
    await run(python, ['-m', 'venv', VENV_DIR], { timeout: 120_000 });
  } catch (e) {
    throw new Error(`cannot create a Python virtualenv with ${python} -m venv (${(e as Error).message.split('\n')[0]}); install python3 with venv`);
  }
  try {
    await run(join(VENV_DIR, 'bin', 'pip'), ['install', '--disable-pip-version-check', '-q', ...PY_REQUIREMENTS], { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    rmSync(VENV_DIR, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`cannot install ${PY_REQUIREMENTS.join(' ')} from PyPI into ${VENV_DIR}; is PyPI reachable?\n${(err.stderr ?? err.message).split('\n').slice(-6).join('\n')}`);
  }
  writeFileSync(MARKER, JSON.stringify(PY_REQUIREMENTS));
}

/** Runs a Python script with the venv's python; resolves with its stdout, rejects with stderr. */
export async function runPython(script: string, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  const py = await ensureVenv();
  return new Promise((resolve, reject) => {
    const child = spawn(py, ['-c', script, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`python exited ${code}\n${err.slice(-4000)}`));
    });
  });
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface PyServer { url: string; port: number; child: ChildProcess; stop(): Promise<void>; stderr(): string }

/** Starts a long-running Python process that listens on `port`, and waits until it accepts connections. */
export async function startPythonServer(args: string[], port: number, opts: { env?: NodeJS.ProcessEnv; readyPath?: string; timeoutMs?: number } = {}): Promise<PyServer> {
  const py = await ensureVenv();
  const child = spawn(py, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; if (err.length > 20_000) err = err.slice(-10_000); });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited ${child.exitCode}:\n${err.slice(-3000)}`);
    try {
      const r = await fetch(`${url}${opts.readyPath ?? '/'}`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) { await stop(); throw new Error(`${args.join(' ')} did not start listening on ${url}:\n${err.slice(-3000)}`); }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { url, port, child, stop, stderr: () => err };
}
