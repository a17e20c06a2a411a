// End to end: the built `node dist/index.js` spoken to over stdio (the SDK's StdioClientTransport, and
// raw pipes to judge every stdout line), against the sandbox, with BROWSER set to the fake browser.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, type CallToolResult, type LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { assertFreshBuild, ENTRY, FAKE_BROWSER, runCli, serverEnv, spawnRaw } from '../helpers/built-server.js';
import { leakedSecrets, tempDir } from '../helpers/config.js';

let sandbox: Sandbox;
let temp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  assertFreshBuild();
  sandbox = await startSandbox();
  temp = await tempDir('drio-mcp-e2e-');
});
afterAll(async () => {
  await sandbox?.close();
  await temp?.cleanup();
});

function envFor(name: string, extra: Record<string, string> = {}): { env: Record<string, string>; browserLog: string } {
  const browserLog = path.join(temp.dir, `${name}-browser.log`);
  return {
    browserLog,
    env: {
      DRIO_API_URL: sandbox.apiUrl,
      DRIO_MCP_CONFIG_DIR: path.join(temp.dir, `${name}-config`),
      XDG_CONFIG_HOME: path.join(temp.dir, `${name}-xdg`),
      BROWSER: FAKE_BROWSER,
      FAKE_BROWSER_LOG: browserLog,
      DRIO_MCP_LOG_LEVEL: 'debug',
      ...extra,
    },
  };
}

const opens = (browserLog: string) => (existsSync(browserLog) ? readFileSync(browserLog, 'utf8').split('\n').filter(Boolean) : []);
const text = (r: CallToolResult) => (r.content[0]?.type === 'text' ? r.content[0].text : '');

describe('drio-mcp over stdio (StdioClientTransport)', () => {
  it('serves the whole story: public tools, sign-in on first use, refresh, re-login, errors', async () => {
    const { env, browserLog } = envFor('story');
    const transport = new StdioClientTransport({ command: process.execPath, args: [ENTRY], env: serverEnv(env), stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => void (stderr += c.toString('utf8')));
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    const logs: LoggingMessageNotification['params'][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    const results: CallToolResult[] = [];
    const call = async (name: string, args: Record<string, unknown> = {}) => {
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
      results.push(r);
      return r;
    };

    try {
      await client.connect(transport);

      // tools/list: names, annotations and schemas, without any network.
      const { tools } = await client.listTools();
      expect(tools).toHaveLength(11);
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(byName.run_app_command!.annotations).toEqual({ title: 'Run a command on a drio app', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true });
      expect(byName.list_apps!.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true });
      expect(byName.get_app!.inputSchema).toMatchObject({ type: 'object', required: ['appId'], properties: { appId: { type: 'string', maxLength: 128 } } });
      expect(byName.list_apps!.outputSchema).toMatchObject({ type: 'object', required: ['apps'] });
      expect(sandbox.counters.requests).toEqual({});

      // Public: no sign-in at all.
      const templates = await call('list_templates');
      expect(templates.isError).toBeFalsy();
      expect(text(templates)).toMatch(/^4 templates:/);
      expect(sandbox.counters.registrations).toBe(0);
      expect(opens(browserLog)).toEqual([]);

      // First protected call: one browser open (BROWSER → fake browser), then the seeded apps.
      sandbox.setAccessTokenTtl(2);
      const apps = await call('list_apps');
      expect(apps.isError).toBeFalsy();
      expect((apps.structuredContent as { apps: Array<{ id: string }> }).apps.map((a) => a.id)).toEqual(['app_123', 'app_support', 'app_catalog']);
      expect(opens(browserLog)).toHaveLength(1);
      expect(sandbox.counters.registrations).toBe(1);
      expect(stderr).toContain(`drio-mcp: sign in to drio by opening this URL: ${opens(browserLog)[0]}`);
      expect(logs.some((l) => String(l.data).includes(opens(browserLog)[0]!))).toBe(true);

      const config = await call('get_app_config', { appId: 'app_123' });
      expect(config.isError).toBeFalsy();
      expect(text(config)).toContain('- tools: 3 (Search items, Get item, Create ticket)');

      const deploy = await call('run_app_command', { appId: 'app_123', command: 'deploy' });
      expect(deploy.isError).toBeFalsy();
      expect(text(deploy)).toMatch(/^deploy on app app_123: succeeded \(run cmd_\w+\)\.\ndeploymentId: dep_\w+\nversion: 4\n/);

      // Expiry: the 2 s token runs out; the next call refreshes silently.
      await new Promise((r) => setTimeout(r, 2100));
      const refreshesBefore = sandbox.counters.grants.refresh_token ?? 0;
      const after = await call('get_app', { appId: 'app_123' });
      expect(after.isError).toBeFalsy();
      expect(text(after)).toContain('state: published, enabled, v4');
      expect(sandbox.counters.grants.refresh_token ?? 0).toBeGreaterThan(refreshesBefore);
      expect(opens(browserLog)).toHaveLength(1);

      // Revoked grant: drio answers 401, the refresh gets invalid_grant, a new sign-in opens one tab.
      sandbox.setAccessTokenTtl(3600);
      await sandbox.revokeAllGrants();
      const relogin = await call('list_apps');
      expect(relogin.isError).toBeFalsy();
      expect(opens(browserLog)).toHaveLength(2);
      expect(sandbox.counters.invalidGrant).toBeGreaterThanOrEqual(1);

      // Errors a person can act on.
      const missing = await call('get_app', { appId: 'app_foreign' });
      expect(missing.isError).toBe(true);
      expect(text(missing)).toMatch(/^drio error 404 not_found: App not found \(request id [0-9a-f-]{36}\)$/);
      const bad = await call('run_app_command', { appId: 'app_123' });
      expect(bad.isError).toBe(true);
      expect(text(bad)).toBe('Invalid arguments: command: is required');
    } finally {
      await client.close();
    }

    // No token value anywhere a person or model can see.
    const secrets = sandbox.issuedSecrets();
    expect(secrets.length).toBeGreaterThan(2);
    expect(leakedSecrets(secrets, stderr)).toEqual([]);
    expect(leakedSecrets(secrets, JSON.stringify(results))).toEqual([]);
    expect(leakedSecrets(secrets, JSON.stringify(logs))).toEqual([]);
  });
});

describe('stdio discipline (raw pipes)', () => {
  it('writes nothing but JSON-RPC to stdout, through sign-in, notifications and errors, and exits when stdin closes', async () => {
    const { env, browserLog } = envFor('raw');
    const server = spawnRaw(env);
    server.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect(await server.response(1)).toMatchObject({ result: { serverInfo: { name: 'drio-mcp' } } });
    server.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    server.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_templates', arguments: {} } });
    server.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: { progressToken: 'p1' } } });
    server.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'get_app', arguments: { appId: '../me' } } });
    server.send({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'nope', arguments: {} } });
    const [list, templates, me, bad, unknown] = await Promise.all([2, 3, 4, 5, 6].map((id) => server.response(id)));
    expect((list!.result as { tools: unknown[] }).tools).toHaveLength(11);
    expect((templates!.result as { isError?: boolean }).isError).toBeUndefined();
    expect(me).toMatchObject({ result: { content: [{ text: 'Signed in to drio as Ada Lovelace <ada@example.com> (user_ada).' }] } });
    expect(bad).toMatchObject({ result: { isError: true } });
    expect(unknown).toMatchObject({ error: { code: -32602 } });
    expect(opens(browserLog)).toHaveLength(1);

    server.child.stdin.end();
    const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    expect(exit).toEqual({ code: 0, signal: null });

    expect(server.stdoutLines.length).toBeGreaterThanOrEqual(7);
    for (const line of server.stdoutLines) {
      const message = JSON.parse(line) as Record<string, unknown>;
      expect(message.jsonrpc, line).toBe('2.0');
      expect('method' in message || 'result' in message || 'error' in message, line).toBe(true);
    }
    // The sign-in URL went out as a logging notification too.
    expect(server.stdoutLines.some((l) => l.includes('"notifications/message"') && l.includes(opens(browserLog)[0]!))).toBe(true);
    expect(leakedSecrets(sandbox.issuedSecrets(), server.stdoutLines.join('\n') + server.stderr())).toEqual([]);
  });

  it('answers requests that were piped in before stdin closed, then exits', async () => {
    const { env } = envFor('piped');
    const server = spawnRaw(env);
    server.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    server.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    sandbox.fail('GET /api/v1/templates', { kind: 'delay', ms: 300, times: 1 });
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_templates', arguments: {} } });
    server.child.stdin.end();
    const answer = await server.response(2);
    expect(answer).toMatchObject({ result: { content: [{ text: expect.stringMatching(/^4 templates:/) }] } });
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('exits cleanly on SIGTERM, closing a sign-in that is still waiting', async () => {
    const { env } = envFor('sigterm', { DRIO_MCP_NO_BROWSER: '1', DRIO_MCP_LOGIN_WAIT_SECONDS: '0' });
    const server = spawnRaw(env);
    server.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await server.response(1);
    server.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_apps', arguments: {} } });
    const pending = await server.response(2);
    expect(pending).toMatchObject({ result: { isError: true, content: [{ text: expect.stringMatching(/^Open this URL to sign in to drio, then ask again: http:\/\/127\.0\.0\.1:\d+\//) }] } });
    server.child.kill('SIGTERM');
    const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('keeps serving with an invalid configuration and answers every tool with the problem', async () => {
    const { env } = envFor('badconfig', { DRIO_API_URL: 'http://drio.example.com' });
    const server = spawnRaw(env);
    server.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await server.response(1);
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_templates', arguments: {} } });
    const answer = await server.response(2);
    expect(answer).toMatchObject({
      result: { isError: true, content: [{ text: expect.stringContaining('drio-mcp is not configured correctly: DRIO_API_URL must use https') }] },
    });
    expect(server.stderr()).toContain('DRIO_API_URL must use https');
    server.child.stdin.end();
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});

describe('CLI', () => {
  it('prints help and version, and rejects unknown commands', async () => {
    const { env } = envFor('cli');
    const version = await runCli(['--version'], env);
    expect(version).toMatchObject({ code: 0, stdout: `${JSON.parse(readFileSync(path.join(path.dirname(ENTRY), '../package.json'), 'utf8')).version}\n` });
    const help = await runCli(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: drio-mcp [command]');
    const loginHelp = await runCli(['login', '--help'], env);
    expect(loginHelp).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: drio-mcp login') });
    const unknown = await runCli(['frobnicate'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('drio-mcp: unknown command "frobnicate"');
    expect(unknown.stdout).toBe('');
  });

  it('exits 1 with a clear message when a command meets an invalid configuration', async () => {
    const { env } = envFor('cli-bad', { DRIO_MCP_LOG_LEVEL: 'loud' });
    const status = await runCli(['status'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/^drio-mcp: Invalid DRIO_MCP_LOG_LEVEL: /);
  });

  it('logs in with the browser and reports the status, never a token', async () => {
    const { env, browserLog } = envFor('cli-login');
    const login = await runCli(['login'], env);
    expect(login.code).toBe(0);
    expect(opens(browserLog)).toHaveLength(1);
    const status = await runCli(['status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('ada@example.com');
    expect(leakedSecrets(sandbox.issuedSecrets(), login.stdout + login.stderr + status.stdout + status.stderr)).toEqual([]);
  });
});

describe('stdout guard', () => {
  it('sends stray console.log and process.stdout.write output to stderr, and survives a stray exception', async () => {
    const { env } = envFor('guard');
    // Preloaded code that misbehaves once the server runs, as a careless dependency might.
    const preload = `data:text/javascript,${encodeURIComponent(
      [
        'const original = process.stdout.write;',
        // Once the server is up (its guard replaced stdout.write), misbehave.
        'const poll = setInterval(() => { if (process.stdout.write === original) return; clearInterval(poll);',
        "  console.log('stray console.log'); console.info('stray console.info'); process.stdout.write('stray write\\n');",
        "  setTimeout(() => { throw new Error('stray exception'); }); }, 5);",
      ].join('\n'),
    )}`;
    const server = spawnRaw(env, [], ['--import', preload]);
    for (let i = 0; i < 200 && !server.stderr().includes('stray exception'); i++) await new Promise((r) => setTimeout(r, 20));
    server.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await server.response(1);
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_templates', arguments: {} } });
    expect(await server.response(2)).toMatchObject({ result: { content: [{ text: expect.stringMatching(/^4 templates:/) }] } });
    server.child.stdin.end();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    for (const line of server.stdoutLines) expect(JSON.parse(line), line).toMatchObject({ jsonrpc: '2.0' });
    expect(server.stderr()).toContain('stray console.log');
    expect(server.stderr()).toContain('stray console.info');
    expect(server.stderr()).toContain('stray write');
    expect(server.stderr()).toContain('uncaught exception: Error: stray exception');
  });
});
