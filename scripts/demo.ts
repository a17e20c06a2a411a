// `npm run demo`: the whole product in one command, with no drio account. Starts the local drio sandbox,
// starts the built drio-mcp against it over stdio, and plays a short scripted session with the MCP SDK
// client: templates without sign-in, then sign-in, apps, config, a deploy, and auth_status.
//
//   npm run demo             sign in yourself: the browser opens (or open the printed URL)
//   npm run demo -- --auto   no browser: a scripted "browser" completes the sandbox's sign-in page
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startSandbox } from '../test/sandbox/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const auto = process.argv.includes('--auto');
const say = (text = '') => void process.stdout.write(`${text}\n`);
const indent = (text: string) => text.split('\n').map((line) => `    ${line}`).join('\n');

const sandbox = await startSandbox();
const configDir = await mkdtemp(path.join(tmpdir(), 'drio-mcp-demo-'));
say(`drio sandbox: API ${sandbox.apiUrl}, sign-in server ${sandbox.issuer}, test account "${sandbox.user.email}"`);

const env: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  DRIO_API_URL: sandbox.apiUrl,
  DRIO_MCP_CONFIG_DIR: configDir,
  // Let the first protected call wait for a person to finish signing in.
  DRIO_MCP_LOGIN_WAIT_SECONDS: '300',
  DRIO_MCP_LOG_LEVEL: 'warn',
};
for (const name of ['DISPLAY', 'WAYLAND_DISPLAY', 'BROWSER', 'XDG_RUNTIME_DIR']) {
  const value = process.env[name];
  if (value) env[name] = value;
}
if (auto) env.BROWSER = path.join(root, 'test', 'sandbox', 'fake-browser.mjs');

const transport = new StdioClientTransport({ command: process.execPath, args: [path.join(root, 'dist', 'index.js')], env, stderr: 'pipe' });
const client = new Client({ name: 'drio-mcp-demo', version: '0.0.0' });
client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) => {
  const text = String(params.data);
  if (text.startsWith('Sign in to drio')) {
    say(`  ↳ drio-mcp asks the user to sign in: ${text.slice(text.indexOf('http'))}`);
    say(auto ? '    (--auto: a scripted browser signs in as the test account)' : '    Open it in a browser on this machine and press "Sign in" (the browser may already have opened).');
  }
});

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  say();
  say(`→ ${name} ${Object.keys(args).length > 0 ? JSON.stringify(args) : ''}`);
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
  say(indent(result.isError ? `error: ${text}` : text));
  return result;
}

try {
  await client.connect(transport);
  const { tools } = await client.listTools();
  say(`drio-mcp ${client.getServerVersion()?.version} is serving ${tools.length} tools: ${tools.map((t) => t.name).join(', ')}`);

  await call('list_templates');
  await call('auth_status');
  const apps = await call('list_apps');
  const firstApp = (apps.structuredContent as { apps?: Array<{ id: string }> } | undefined)?.apps?.[0]?.id;
  if (firstApp) {
    await call('get_app_config', { appId: firstApp });
    await call('run_app_command', { appId: firstApp, command: 'deploy' });
    await call('get_app', { appId: 'app_does_not_exist' });
  }
  await call('whoami');
  await call('auth_status');
  say();
  say(`Done. The sandbox issued ${sandbox.counters.grants.authorization_code ?? 0} sign-in and drio-mcp made ${sandbox.counters.requests['GET /api/v1/apps'] ?? 0} list request(s).`);
} finally {
  await client.close().catch(() => {});
  await sandbox.close();
  await rm(configDir, { recursive: true, force: true });
}
