import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstSentence, manifestTools } from '../../scripts/manifest-tools.js';
import { probeStdioServer } from './stdio-probe.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'manifest.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('manifest.json', () => {
  it('passes mcpb validate', () => {
    const out = execFileSync(path.join(root, 'node_modules', '.bin', 'mcpb'), ['validate', path.join(root, 'manifest.json')], { encoding: 'utf8' });
    expect(out).toContain('validation passes');
  });

  it('has the version of package.json, and the built server reports it too', async () => {
    expect(manifest.version).toBe(pkg.version);
    const probe = await probeStdioServer(process.execPath, [path.join(root, 'dist', 'index.js')]);
    expect(probe.serverName).toBe('drio-mcp');
    expect(probe.serverVersion).toBe(pkg.version);
  });

  it('lists exactly the tools the server registers (run `npm run sync:manifest` after changing a tool)', async () => {
    expect(manifest.tools).toEqual(manifestTools());
    const probe = await probeStdioServer(process.execPath, [path.join(root, 'dist', 'index.js')]);
    expect(probe.tools.map((t) => ({ name: t.name, description: firstSentence(t.description ?? '') }))).toEqual(manifest.tools);
  });

  it('runs dist/index.js with the drio API URL from user_config', () => {
    expect(manifest.server).toMatchObject({ type: 'node', entry_point: 'dist/index.js' });
    expect(manifest.server.mcp_config.args).toEqual(['${__dirname}/dist/index.js']);
    expect(manifest.server.mcp_config.env.DRIO_API_URL).toBe('${user_config.drio_api_url}');
    expect(manifest.user_config.drio_api_url.default).toBe('https://getdrio.com');
    expect(manifest.compatibility.runtimes.node).toBe(`>=${pkg.engines.node.replace('>=', '')}.0`);
  });
});

describe('firstSentence', () => {
  it('does not cut at "e.g."', () => {
    expect(firstSentence('Run a command, e.g. "deploy" (publish). Then more.')).toBe('Run a command, e.g. "deploy" (publish).');
    expect(firstSentence('No full stop')).toBe('No full stop');
  });
});
