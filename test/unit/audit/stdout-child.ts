// Child process for writer.test.ts: writes audit records to the real stdout with the default
// sink and reports on stderr. argv: count, then flags: "touch" (instantiate process.stdout,
// which makes a piped fd 1 non-blocking), "wait" (write after 300 ms).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

// Count EAGAIN from fd 1, to show the retry path ran. Patched before the writer is imported.
let eagain = 0;
const writeSync = fs.writeSync;
fs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
  try {
    return writeSync(...args);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') eagain += 1;
    throw err;
  }
}) as typeof fs.writeSync;
syncBuiltinESMExports();

const { AuditWriter, AuditWriteError } = await import('../../../src/audit/writer.ts');
const { statement } = await import('./fixtures.ts');

const count = Number(process.argv[2] ?? '1');
const flags = new Set(process.argv.slice(3));
if (flags.has('touch')) void process.stdout.writable;

function run(): void {
  const writer = new AuditWriter({ stream: 'child' });
  let written = 0;
  process.stderr.write('start\n');
  try {
    for (let i = 0; i < count; i++) {
      writer.write(statement({ statement: { sql: `SELECT ${i}, '${'x'.repeat(2000)}'`, fingerprint: null, kind: 'SELECT', tables: [], columns: [] } }));
      written += 1;
    }
    process.stderr.write(`written=${written} eagain=${eagain}\n`);
  } catch (err) {
    const name = err instanceof AuditWriteError ? 'AuditWriteError' : 'other';
    const code = (err as Error & { cause?: { code?: string } }).cause?.code;
    process.stderr.write(`written=${written} threw=${name} nextSeq=${writer.nextSeq} cause=${code}\n`);
  }
}

if (flags.has('wait')) setTimeout(run, 300); else run();
