/**
 * Reliability 3, many hosts at once: four `drio-mcp` processes (as four MCP hosts would spawn them) share one credential
 * store, signed in once, and each keeps 10 `list_apps` calls in flight while the 3-second access tokens expire again and
 * again and every refresh rotates the refresh token. One process refreshes per expiry (the cross-process lock, and the
 * others re-reading the store), so the sign-in server never sees a used refresh token: zero `invalid_grant`, zero
 * logins, every call answered.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertFreshBuild } from '../helpers/built-server.js';
import { tempDir } from '../helpers/config.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { browserOpens, cliLogin, createTranscript, drioEnv, expectNoLeakedSecrets, spawnServer, type ServerProcess } from './support.js';

const HOSTS = 4;
const CALLS_PER_HOST = 10;
/**
 * The sandbox's access-token lifetime. drio-mcp refreshes `min(60 s, lifetime / 2)` early (session.ts; only the
 * `refreshMarginSeconds` dependency changes it, no env var), so a 3 s token is replaced about every 2 s.
 */
const TOKEN_TTL_SECONDS = 3;
/** Keep calling until this many expiries were handled (about 2 s each), with a wave after the last one. */
const EXPIRIES = 3;
const MAX_RUN_MS = 20_000;

let sandbox: Sandbox;
let work: { dir: string; cleanup: () => Promise<void> };
const transcript = createTranscript();
const servers: ServerProcess[] = [];

beforeAll(async () => {
  assertFreshBuild();
  sandbox = await startSandbox({ accessTokenTtl: TOKEN_TTL_SECONDS });
  work = await tempDir('drio-mcp-many-hosts-');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await sandbox?.close();
  await work?.cleanup();
});

it(`${HOSTS} processes × ${CALLS_PER_HOST} concurrent calls across ${EXPIRIES} expiries of ${TOKEN_TTL_SECONDS} s tokens: no invalid_grant, no login, every call answered`, async () => {
  const configDir = path.join(work.dir, 'shared');
  const loginLog = path.join(work.dir, 'login-browser.log');
  const hostsLog = path.join(work.dir, 'hosts-browser.log');
  await cliLogin(drioEnv(sandbox.apiUrl, configDir, loginLog), transcript);
  expect(await browserOpens(loginLog)).toBe(1);

  servers.push(...(await Promise.all(Array.from({ length: HOSTS }, (_, i) => spawnServer(drioEnv(sandbox.apiUrl, configDir, hostsLog), transcript, `host${i + 1}`)))));
  sandbox.resetCounters();
  const issuedBefore = new Set(sandbox.issuedSecrets());
  const loginToken = accessTokens(sandbox.issuedSecrets())[0];

  const started = Date.now();
  let calls = 0;
  const failures: string[] = [];
  let lastWave = false;
  while (!lastWave && Date.now() - started < MAX_RUN_MS) {
    lastWave = (sandbox.counters.grants.refresh_token ?? 0) >= EXPIRIES;
    const wave = servers.flatMap((server, host) =>
      Array.from({ length: CALLS_PER_HOST }, async () => {
        const result = await server.text('list_apps').catch((error: unknown) => ({ isError: true, text: String(error) }));
        calls += 1;
        if (result.isError || !result.text.includes('Analytical Engine')) failures.push(`host${host + 1}: ${result.text}`);
      }),
    );
    await Promise.all(wave);
  }
  const elapsed = Date.now() - started;

  // Every access token the sign-in server issued during the run, in order: each one replaced its predecessor when that
  // reached its refresh point (`iat` + lifetime − margin). One issued sooner would be a second refresh of one expiry.
  const refreshed = accessTokens(sandbox.issuedSecrets().filter((s) => !issuedBefore.has(s)));
  const chain = [loginToken!, ...refreshed];
  const gaps = chain.slice(1).map((t, i) => t.iat - chain[i]!.iat);
  const refreshGrants = sandbox.counters.grants.refresh_token ?? 0;
  console.info(
    `[many-hosts] ${HOSTS} processes, ${calls} list_apps calls in ${(elapsed / 1000).toFixed(1)} s; ${refreshed.length} token expiries, ` +
      `${refreshGrants} refresh grants (${(refreshGrants / Math.max(1, refreshed.length)).toFixed(2)} per expiry), ` +
      `${sandbox.counters.invalidGrant} invalid_grant, ${sandbox.counters.authorizations} logins; each token replaced ${Math.min(...gaps)}–${Math.max(...gaps)} s after it was issued`,
  );

  expect(failures).toEqual([]);
  expect(calls).toBeGreaterThanOrEqual(HOSTS * CALLS_PER_HOST * 3);
  expect(sandbox.counters.invalidGrant).toBe(0);
  expect(sandbox.counters.authorizations).toBe(0);
  expect(sandbox.counters.grants.authorization_code ?? 0).toBe(0);
  expect(await browserOpens(hostsLog)).toBe(0);
  expect(refreshed.length).toBeGreaterThanOrEqual(EXPIRIES);
  expect(refreshGrants).toBe(refreshed.length);
  // One refresh per expiry: no token was replaced before its refresh point (3 s lifetime − 1 s margin).
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(TOKEN_TTL_SECONDS - 1);
  // Refreshed ahead of expiry, never after drio rejected a token.
  for (const s of servers) {
    expect(s.alive()).toBe(true);
    expect(s.stderr()).not.toContain('drio answered 401');
    expect(s.stderr()).not.toContain('lock was compromised');
  }
});

/** The JWT access tokens among `secrets`, oldest first, with their issue time (refresh tokens and codes are opaque). */
function accessTokens(secrets: readonly string[]): Array<{ iat: number }> {
  return secrets
    .filter((s) => s.split('.').length === 3)
    .map((jwt) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number })
    .sort((a, b) => a.iat - b.iat);
}

it('leaks no issued token or code in anything captured (stdout, stderr, results, log notifications)', () => {
  expectNoLeakedSecrets(transcript, sandbox.issuedSecrets(), 'many-hosts.test.ts');
});
