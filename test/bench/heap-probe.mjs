// Preloaded into the gateway child by test/bench/memory.ts (node --import): samples the V8
// heap every few milliseconds and, on SIGUSR2, prints the maxima since the last report to
// stderr as one `PHIGATE_BENCH_PROBE {...}` line, then starts over (after a full GC when the
// process runs with --expose-gc). Plain JavaScript: it runs
// before bin/phigate.mjs registers tsx. Not used by phigate itself.
const INTERVAL_MS = Number(process.env.PHIGATE_BENCH_PROBE_MS ?? 5);
let max = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
let samples = 0;
const sample = () => {
  const m = process.memoryUsage();
  for (const k of Object.keys(max)) if (m[k] > max[k]) max[k] = m[k];
  samples++;
};
setInterval(sample, INTERVAL_MS).unref();
process.on('SIGUSR2', () => {
  sample();
  process.stderr.write(`PHIGATE_BENCH_PROBE ${JSON.stringify({ ...max, samples })}\n`);
  max = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  samples = 0;
  // With --expose-gc, start the next interval from a collected heap (comparable baselines).
  if (typeof globalThis.gc === 'function') globalThis.gc();
});
