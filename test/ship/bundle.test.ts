import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeStdioServer } from './stdio-probe.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const { version } = JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json"))'], { cwd: root, encoding: 'utf8' })) as { version: string };

/** Every file under `dir`, relative, with forward slashes. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

describe('the MCP Bundle (.mcpb)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'drio-mcp-bundle-'));
  const unpacked = path.join(work, 'unpacked');
  const bundle = path.join(work, `drio-mcp-${version}.mcpb`);

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'pack-mcpb.mjs'), '--no-build', '--out', bundle], { cwd: root, stdio: 'pipe' });
    execFileSync(path.join(root, 'node_modules', '.bin', 'mcpb'), ['unpack', bundle, unpacked], { stdio: 'pipe' });
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('holds only what runs: manifest, dist/, the runtime closure of `open`, no tests or dev tools', () => {
    const files = listFiles(unpacked);
    expect(files).toContain('manifest.json');
    expect(files).toContain('dist/index.js');
    expect(files).toContain('node_modules/open/index.js');
    // xdg-open ships next to `open` and is how Linux opens the browser.
    expect(files).toContain('node_modules/open/xdg-open');
    const forbidden = files.filter((f) => /^(test|src|bench|scripts)\/|(^|\/)(oidc-provider|vitest|typescript|esbuild|playwright-core|@modelcontextprotocol|openid-client)\//.test(f));
    expect(forbidden).toEqual([]);
    expect(statSync(bundle).size).toBeLessThan(2 * 1024 * 1024);
  });

  it('answers initialize and tools/list when unpacked into an empty folder', async () => {
    const probe = await probeStdioServer(process.execPath, [path.join(unpacked, 'dist', 'index.js')], { cwd: unpacked });
    expect(probe.serverVersion).toBe(version);
    expect(probe.tools.map((t) => t.name)).toContain('list_apps');
    expect(probe.tools).toHaveLength(11);
  });
});
