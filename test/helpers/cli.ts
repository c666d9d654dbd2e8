// Run the real `phigate` binary (bin/phigate.mjs) as a child process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'phigate.mjs');
export const TEST_ENV = { ...process.env, PHIGATE_CACHE_DIR: join(ROOT, '.cache', 'test') };

export function phigateSync(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', input, env: TEST_ENV, timeout: 60_000 });
}

/** Like phigateSync but without blocking the event loop (for talking to an in-process gateway). */
export function phigate(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: TEST_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => { stdout += d; });
    proc.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

export interface RunningCli { proc: ChildProcess; url: string; stdout: () => string; stderr: () => string; stop(): Promise<void> }

/** Start a long-running subcommand (serve, demo) with --port 0 and wait until it is ready. */
export async function startCli(args: string[], timeoutMs = 60_000): Promise<RunningCli> {
  const proc = spawn(process.execPath, [BIN, ...args, '--port', '0'], { cwd: ROOT, env: TEST_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { err += d; });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in ${timeoutMs} ms: ${err.slice(-500)}`)), timeoutMs);
    const check = () => {
      const m = /ready: \d+ polic(?:y|ies) on (http:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    proc.stderr!.on('data', check);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}: ${err.slice(-500)}`)); });
  });
  return {
    proc, url, stdout: () => out, stderr: () => err,
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) { resolve(); return; }
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
  };
}
