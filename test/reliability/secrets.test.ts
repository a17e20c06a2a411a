/**
 * Reliability 5, secrets: the whole life of a sign-in, through the built server over stdio and the CLI, at debug log
 * level, with every byte drio-mcp wrote (stdout, stderr, tool results, MCP log notifications, CLI output) scanned for
 * every token and code the sandbox issued. The other reliability files run the same scan over what they captured.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertFreshBuild, runCli } from '../helpers/built-server.js';
import { tempDir } from '../helpers/config.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { browserOpens, createTranscript, drioEnv, expectNoLeakedSecrets, readStore, spawnServer, type ServerProcess } from './support.js';

/** Short-lived tokens (refreshed 1 s early), so the life below includes refreshes. */
const TOKEN_TTL_SECONDS = 2;

let sandbox: Sandbox;
let work: { dir: string; cleanup: () => Promise<void> };
let server: ServerProcess | undefined;
const transcript = createTranscript();

beforeAll(async () => {
  assertFreshBuild();
  sandbox = await startSandbox({ accessTokenTtl: TOKEN_TTL_SECONDS });
  work = await tempDir('drio-mcp-secrets-');
});
afterAll(async () => {
  await server?.close();
  await sandbox?.close();
  await work?.cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('sign-in on first use, refreshes, a rejected token, a revoked grant and a new sign-in, status, logout: every step answered', async () => {
  const configDir = path.join(work.dir, 'config');
  const browserLog = path.join(work.dir, 'browser.log');
  const env = drioEnv(sandbox.apiUrl, configDir, browserLog);
  server = await spawnServer(env, transcript, 'life');

  // Sign-in on first use: the URL goes to stderr and to a log notification; the fake browser completes it.
  const who = await server.text('whoami');
  expect(who).toEqual({ isError: false, text: `Signed in to drio as ${sandbox.user.name} <${sandbox.user.email}> (${sandbox.user.id}).` });
  expect(server.logs().some((l) => l.startsWith('Sign in to drio to continue: '))).toBe(true);
  expect(await browserOpens(browserLog)).toBe(1);

  // The access token reaches its refresh point: refreshed silently (debug logs on).
  await sleep(1100);
  expect((await server.text('list_apps')).isError).toBe(false);
  expect(sandbox.counters.grants.refresh_token ?? 0).toBeGreaterThanOrEqual(1);

  // drio rejects a token once: refresh and retry.
  sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 401, times: 1 });
  expect((await server.text('list_apps')).isError).toBe(false);

  // Every grant revoked: the refresh meets invalid_grant, and a new sign-in happens in the browser.
  await sandbox.revokeAllGrants();
  const afterRevoke = await server.text('list_apps');
  expect(afterRevoke.isError).toBe(false);
  expect(sandbox.counters.invalidGrant).toBeGreaterThanOrEqual(1);
  expect(await browserOpens(browserLog)).toBe(2);

  expect((await server.text('auth_status')).text).toContain('Signed in to drio');
  await server.close();
  server = undefined;

  // The CLI: status, logout (revokes at the sign-in server), status (signed out: exit 1), login, status.
  const steps: Array<[string, number]> = [['status', 0], ['logout', 0], ['status', 1], ['login', 0], ['status', 0]];
  for (const [command, code] of steps) {
    const run = await runCli([command], env);
    transcript.add(`cli ${command} stdout`, run.stdout);
    transcript.add(`cli ${command} stderr`, run.stderr);
    expect(run.code, `${command}: ${run.stdout} ${run.stderr}`).toBe(code);
  }
  expect(sandbox.counters.revocations).toBe(1);
  expect((await readStore(configDir)).json.tokens?.access_token).toBeTruthy();
  // What the life issued: three sign-ins' codes and tokens, and every refresh.
  expect(sandbox.counters.authorizations).toBe(3);
});

it('leaks no issued token or code in anything captured (stdout, stderr, results, log notifications, CLI output)', () => {
  expectNoLeakedSecrets(transcript, sandbox.issuedSecrets(), 'secrets.test.ts');
});
