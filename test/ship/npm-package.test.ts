import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeStdioServer } from './stdio-probe.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

describe('the npm package', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'drio-mcp-npm-'));
  const project = path.join(work, 'project');
  let packedFiles: string[] = [];

  beforeAll(() => {
    // --ignore-scripts: pack the dist/ that `pretest` built instead of rebuilding it under other tests' feet.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packedFiles = packed[0]!.files.map((f) => f.path);
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(path.join(project, 'package.json'), '{"name":"empty-project","private":true}\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, packed[0]!.filename)], { cwd: project, stdio: 'pipe' });
  }, 180_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships only what runs', () => {
    expect(packedFiles).toContain('dist/index.js');
    expect(packedFiles).toContain('package.json');
    expect(packedFiles.filter((f) => /^(test|src|bench|scripts|\.ci)\//.test(f))).toEqual([]);
  });

  it('`npx drio-mcp --help` and `--version` work from an empty project', () => {
    const help = execFileSync('npx', ['--no-install', 'drio-mcp', '--help'], { cwd: project, encoding: 'utf8' });
    expect(help).toContain('Usage: drio-mcp');
    expect(help).toContain('DRIO_API_URL');
    const version = execFileSync('npx', ['--no-install', 'drio-mcp', '--version'], { cwd: project, encoding: 'utf8' });
    expect(version.trim()).toBe(pkg.version);
  });

  it('serves MCP over stdio from the installed bin', async () => {
    const probe = await probeStdioServer(path.join(project, 'node_modules', '.bin', 'drio-mcp'), [], { cwd: project });
    expect(probe.serverName).toBe('drio-mcp');
    expect(probe.tools.length).toBe(11);
  });
});
