// Build a cached tool once, even when several test files ask for it at the same moment: the
// first takes a lock folder (holding its pid) and builds, the others wait for it and reuse the
// result. A lock left by a process that died is taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `lock`: where the lock folder goes (default inside `dir`; outside it when build replaces `dir`). */
export async function buildOnce(dir: string, ready: () => boolean, build: () => Promise<void>, lock = join(dir, '.building')): Promise<void> {
  if (ready()) return;
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      if (ready()) return;
      if (lockIsStale(lock)) { rmSync(lock, { recursive: true, force: true }); continue; }
      await sleep(2000);
    }
  }
  try {
    if (!ready()) await build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function lockIsStale(lock: string): boolean {
  try {
    process.kill(Number(readFileSync(join(lock, 'pid'), 'utf8')), 0);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return false;
    // No pid file yet (just created) counts as live for a few seconds.
    try { return Date.now() - statSync(lock).mtimeMs > 10_000; } catch { return true; }
  }
}
