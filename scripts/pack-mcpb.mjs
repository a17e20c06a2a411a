// Builds the MCP Bundle (.mcpb) for desktop hosts. The bundle holds only what runs: manifest.json,
// the esbuild output in dist/, and the one runtime dependency (`open`) with its own dependencies,
// copied from the lock-file-pinned node_modules, so packing works offline and is reproducible.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

/** Every package the runtime dependencies need, following the lock file. */
function runtimeClosure(names) {
  const seen = new Set();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.pop();
    if (seen.has(name)) continue;
    const entry = lock.packages[`node_modules/${name}`];
    if (!entry) throw new Error(`${name} is not in package-lock.json: run npm install`);
    seen.add(name);
    queue.push(...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}).filter((d) => lock.packages[`node_modules/${d}`]));
  }
  return [...seen].sort();
}

// Tests pack the dist/ that `pretest` built (`--no-build`), so no test rebuilds it under another's feet.
const args = process.argv.slice(2);
if (!args.includes('--no-build')) execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const outIndex = args.indexOf('--out');

const stage = mkdtempSync(join(tmpdir(), 'drio-mcp-mcpb-'));
try {
  cpSync(join(root, 'manifest.json'), join(stage, 'manifest.json'));
  cpSync(join(root, 'dist'), join(stage, 'dist'), { recursive: true });
  for (const file of ['README.md', 'LICENSE']) cpSync(join(root, file), join(stage, file));
  const runtime = runtimeClosure(Object.keys(pkg.dependencies ?? {}));
  for (const name of runtime) {
    cpSync(join(root, 'node_modules', name), join(stage, 'node_modules', name), { recursive: true, dereference: true });
  }
  const stagePkg = { name: pkg.name, version: pkg.version, type: pkg.type, license: pkg.license, bin: pkg.bin, dependencies: pkg.dependencies };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(stagePkg, null, 2)}\n`);

  const out = outIndex >= 0 ? args[outIndex + 1] : join(root, 'build', `drio-mcp-${pkg.version}.mcpb`);
  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  execFileSync(join(root, 'node_modules', '.bin', 'mcpb'), ['pack', stage, out], { stdio: ['ignore', 'inherit', 'inherit'] });
  process.stderr.write(`packed ${out} (${(statSync(out).size / 1024).toFixed(0)} KiB; runtime packages: ${runtime.join(', ')})\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
