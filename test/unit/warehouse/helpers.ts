// Shared bits for the warehouse tests: temp directories, small DuckDB files, draining streams.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ResultStream } from '../../../src/warehouse/types.ts';

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `phigate-test-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Creates `dir/name` as a DuckDB file holding whatever `sql` creates (no lock-down: setup only). */
export async function makeDuckDBFile(dir: string, name: string, sql: string): Promise<string> {
  const file = join(dir, name);
  const instance = await DuckDBInstance.create(file);
  const conn = await instance.connect();
  try {
    await conn.run(sql);
    await conn.run('CHECKPOINT');
  } finally {
    conn.disconnectSync();
    instance.closeSync();
  }
  return file;
}

/** Every row of a result stream, with the size of each chunk it arrived in. */
export async function drain(rs: ResultStream): Promise<{ rows: (string | null)[][]; chunkSizes: number[] }> {
  const rows: (string | null)[][] = [];
  const chunkSizes: number[] = [];
  for await (const chunk of rs.chunks) {
    chunkSizes.push(chunk.length);
    rows.push(...chunk);
  }
  return { rows, chunkSizes };
}
