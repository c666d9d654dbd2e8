import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOnce } from '../../helpers/build-once.ts';

test('concurrent callers build once and all see the result; the lock is removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'build-once-'));
  const out = join(dir, 'tool');
  let builds = 0;
  const build = async () => { builds++; await new Promise((r) => setTimeout(r, 300)); writeFileSync(out, 'x'); };
  await Promise.all([1, 2, 3].map(() => buildOnce(dir, () => existsSync(out), build)));
  assert.equal(builds, 1);
  assert.ok(existsSync(out));
  assert.ok(!existsSync(join(dir, '.building')));
});

test('a lock left by a dead process is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'build-once-'));
  mkdirSync(join(dir, '.building'));
  writeFileSync(join(dir, '.building', 'pid'), '999999999');
  const out = join(dir, 'tool');
  await buildOnce(dir, () => existsSync(out), async () => { writeFileSync(out, 'x'); });
  assert.ok(existsSync(out));
});

test('a failed build releases the lock and reports the failure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'build-once-'));
  await assert.rejects(buildOnce(dir, () => false, async () => { throw new Error('no Go'); }), /no Go/);
  assert.ok(!existsSync(join(dir, '.building')));
});

test('a lock outside the folder survives a build that replaces the folder (the Python venv)', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'build-once-'));
  const dir = join(parent, 'venv');
  const lock = `${dir}.lock`;
  const marker = join(dir, 'ready');
  let builds = 0;
  const build = async () => {
    builds++;
    rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 300));
    mkdirSync(dir, { recursive: true });
    writeFileSync(marker, 'x');
  };
  await Promise.all([1, 2, 3].map(() => buildOnce(dir, () => existsSync(marker), build, lock)));
  assert.equal(builds, 1);
  assert.ok(existsSync(marker));
  assert.ok(!existsSync(lock));
});
