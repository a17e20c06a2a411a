// Benchmark instrument, preloaded into every measured server alike (`node -r bench/gc-probe.cjs --expose-gc`):
// on SIGUSR2 it runs a full GC and writes process.memoryUsage() to $GC_PROBE_DIR/<pid>.json, so memory is
// compared after collection instead of at whatever point V8's heuristics left the heap.
const { writeFileSync, renameSync } = require('node:fs');
const path = require('node:path');
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') global.gc();
  const file = path.join(process.env.GC_PROBE_DIR, `${process.pid}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage()));
  renameSync(`${file}.tmp`, file);
});
