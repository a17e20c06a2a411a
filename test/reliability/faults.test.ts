/**
 * Reliability 1, faults: the built server (`node dist/index.js`) over stdio against the sandbox while drio or its
 * sign-in server misbehaves. Every fault must end in an `isError` result a person can act on (the status and code,
 * drio's request id, "Could not reach", how long to wait...), with the process still serving the next call and the
 * stored sign-in untouched.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild } from '../helpers/built-server.js';
import { tempDir } from '../helpers/config.js';
import { startScriptedServer } from '../helpers/scripted-server.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import {
  ageStoredToken,
  browserOpens,
  cliLogin,
  createTranscript,
  drioEnv,
  expectNoLeakedSecrets,
  readStore,
  spawnServer,
  type ServerProcess,
} from './support.js';

/** Short, so a stalled drio costs the test 2 s instead of the default 30 s. */
const TIMEOUT_SECONDS = 2;
const REQUEST_ID = /\(request id [0-9a-f-]{36}\)/;

let sandbox: Sandbox;
let work: { dir: string; cleanup: () => Promise<void> };
const transcript = createTranscript();

beforeAll(async () => {
  assertFreshBuild();
  sandbox = await startSandbox();
  work = await tempDir('drio-mcp-faults-');
});
afterAll(async () => {
  await sandbox?.close();
  await work?.cleanup();
});
afterEach(() => sandbox.clearFailures());

const requests = (key: string) => sandbox.counters.requests[key] ?? 0;

/** A config dir signed in through `drio-mcp login`, and the env a server for it runs with. */
async function signedInDir(name: string, extra: Record<string, string> = {}) {
  const configDir = path.join(work.dir, name);
  const browserLog = path.join(work.dir, `${name}-browser.log`);
  const env = drioEnv(sandbox.apiUrl, configDir, browserLog, { DRIO_MCP_REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS), ...extra });
  await cliLogin(env, transcript);
  await rm(browserLog, { force: true }); // count only the opens that come after this sign-in
  return { configDir, browserLog, env };
}

describe('drio API faults: one signed-in server lives through all of them', () => {
  let server: ServerProcess;
  let configDir: string;
  let browserLog: string;
  let storeBefore: string;

  beforeAll(async () => {
    const dir = await signedInDir('api');
    ({ configDir, browserLog } = dir);
    server = await spawnServer(dir.env, transcript, 'api-faults');
    expect((await server.text('list_apps')).isError).toBe(false); // warm: discovery cached, token in memory
    storeBefore = (await readStore(configDir)).raw;
    sandbox.resetCounters();
  });
  afterAll(async () => server?.close());

  /** After a fault: the process serves the next call, the stored sign-in is byte for byte the same, no login began. */
  async function expectRecovered(): Promise<void> {
    sandbox.clearFailures();
    expect(server.alive()).toBe(true);
    const next = await server.text('list_apps');
    expect(next).toMatchObject({ isError: false });
    expect(next.text).toContain('Analytical Engine');
    expect((await readStore(configDir)).raw).toBe(storeBefore);
    expect(sandbox.counters.authorizations).toBe(0);
    expect(await browserOpens(browserLog)).toBe(0);
  }

  it('drio 500: shows the status, code, message and drio’s request id; a 500 is not retried', async () => {
    sandbox.resetCounters();
    const envelope = { error: { code: 'internal_error', message: 'Database unavailable', details: null, requestId: 'req_fault_500_7f3a' } };
    sandbox.fail('GET /api/v1/apps', { kind: 'json', status: 500, body: envelope });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toBe('drio error 500 internal_error: Database unavailable (request id req_fault_500_7f3a)');
    expect(requests('GET /api/v1/apps')).toBe(1);
    await expectRecovered();
  });

  it('503 with Retry-After, once: waits as drio asked, retries the GET and succeeds', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 503, retryAfter: 1, times: 1 });
    const started = Date.now();
    const result = await server.text('list_apps');
    expect(result).toMatchObject({ isError: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(requests('GET /api/v1/apps')).toBe(2);
    expect(server.logs().some((l) => l.includes('drio is busy (503), retrying in 1 s'))).toBe(true);
    await expectRecovered();
  });

  it('503 that persists: three attempts honouring Retry-After, then says drio is busy and how long to wait', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 503, retryAfter: 1 });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/^drio error 503 service_unavailable: drio is busy and asked to wait 1 s before trying again; try again later /);
    expect(result.text).toMatch(REQUEST_ID);
    expect(requests('GET /api/v1/apps')).toBe(3);
    await expectRecovered();
  });

  it('503 asking for a longer wait than a tool call can afford: fails at once, quoting the wait', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 503, retryAfter: 120 });
    const started = Date.now();
    const result = await server.text('list_apps');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.isError).toBe(true);
    expect(result.text).toContain('drio is busy and asked to wait 120 s before trying again');
    expect(requests('GET /api/v1/apps')).toBe(1);
    await expectRecovered();
  });

  it('a command is never retried, even on a 503 with Retry-After', async () => {
    sandbox.resetCounters();
    sandbox.fail('POST /api/v1/apps/:appId/commands', { kind: 'status', status: 503, retryAfter: 1 });
    const result = await server.text('run_app_command', { appId: 'app_123', command: 'validate' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain('drio error 503 service_unavailable');
    expect(result.text).toMatch(REQUEST_ID);
    expect(requests('POST /api/v1/apps/:appId/commands')).toBe(1);
    await expectRecovered();
  });

  it('429 without Retry-After: a bounded backoff, then the status and code', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 429, message: 'Too many requests' });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/^drio error 429 rate_limited: Too many requests \(request id [0-9a-f-]{36}\)$/);
    expect(requests('GET /api/v1/apps')).toBe(3);
    await expectRecovered();
  });

  it(`a 30 s stall: gives up after DRIO_MCP_REQUEST_TIMEOUT_SECONDS=${TIMEOUT_SECONDS} and says so`, async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'delay', ms: 30_000, times: 1 });
    const started = Date.now();
    const result = await server.text('list_apps');
    const elapsed = Date.now() - started;
    expect(result).toEqual({ isError: true, text: `Could not reach drio at ${sandbox.apiUrl} (no answer within ${TIMEOUT_SECONDS} s).` });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_SECONDS * 1000 - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_SECONDS * 1000 + 3000);
    expect(requests('GET /api/v1/apps')).toBe(1); // a timeout is not retried: it already cost the whole budget
    await expectRecovered();
  });

  it('malformed JSON in a 200: says drio sent an unexpected response, for what', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps/:appId/config', { kind: 'malformed' });
    const result = await server.text('get_app_config', { appId: 'app_123' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain('drio sent an unexpected response for the config of app app_123');
    expect(requests('GET /api/v1/apps/:appId/config')).toBe(1);
    await expectRecovered();
  });

  it('a 200 that is not JSON, with drio’s x-request-id header: the request id is quoted', async () => {
    // The sandbox's malformed answer carries no request id; a scripted drio does (templates need no sign-in).
    const scripted = await startScriptedServer(() => ({ status: 200, body: '<html>maintenance</html>', headers: { 'x-request-id': 'req_not_json_42' } }));
    const other = await spawnServer(drioEnv(scripted.url, path.join(work.dir, 'scripted'), browserLog), transcript, 'scripted');
    try {
      const result = await other.text('list_templates');
      expect(result).toEqual({ isError: true, text: 'drio sent an unexpected response for the template list. (request id req_not_json_42)' });
      expect(other.alive()).toBe(true);
    } finally {
      await other.close();
      await scripted.close();
    }
  });

  it('a connection reset once: the GET is retried and the user sees nothing of it', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'drop', times: 1 });
    expect(await server.text('list_apps')).toMatchObject({ isError: false });
    expect(requests('GET /api/v1/apps')).toBe(2);
    await expectRecovered();
  });

  it('connection resets that persist: "Could not reach drio" after three attempts', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'drop' });
    const result = await server.text('list_apps');
    expect(result).toEqual({ isError: true, text: `Could not reach drio at ${sandbox.apiUrl} (connection closed unexpectedly).` });
    expect(requests('GET /api/v1/apps')).toBe(3);
    await expectRecovered();
  });

  it('410 gone: says drio retired this API version and to update drio-mcp', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 410, code: 'gone', message: 'API v1 was retired on 2026-06-30' });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/^drio has retired this API version \(API v1 was retired on 2026-06-30\)\. Update drio-mcp to a version that speaks drio's current API\. /);
    expect(result.text).toMatch(REQUEST_ID);
    await expectRecovered();
  });

  // Last here: the refresh legitimately rotates the stored tokens.
  it('401 after a successful refresh: one refresh, no loop, and the user is told the sign-in was not accepted', async () => {
    sandbox.resetCounters();
    // The real case: drio rejects the token, drio-mcp refreshes (the sign-in server agrees), drio rejects the new one too.
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 401, message: 'Token revoked for this app' });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/^drio error 401 unauthorized: Token revoked for this app \(request id [0-9a-f-]{36}\) /);
    expect(result.text).toContain('drio did not accept the sign-in even after a refresh; ask again to sign in anew, or run `drio-mcp login`.');
    expect(requests('GET /api/v1/apps')).toBe(2);
    expect(sandbox.counters.grants).toEqual({ refresh_token: 1 });
    expect(sandbox.counters.invalidGrant).toBe(0);

    // Still signed in with the refreshed tokens; the next call uses them without another refresh or a login.
    const stored = (await readStore(configDir)).json;
    expect(stored.tokens?.refresh_token).toBeTruthy();
    storeBefore = (await readStore(configDir)).raw;
    sandbox.resetCounters();
    await expectRecovered();
    expect(sandbox.counters.grants).toEqual({});
    expect(requests('GET /api/v1/apps')).toBe(1);
  });
});

describe('sign-in server faults when a refresh is due', () => {
  /** A signed-in server whose stored access token expired a minute ago (as after a night's sleep). */
  async function expiredServer(name: string) {
    const dir = await signedInDir(name);
    const storeBefore = await ageStoredToken(dir.configDir, { expiresInSeconds: -60, lifetimeSeconds: 3600 });
    const server = await spawnServer(dir.env, transcript, name);
    sandbox.resetCounters();
    return { ...dir, server, storeBefore };
  }

  /** The fault changed nothing on disk; the next call (fault gone) refreshes once and succeeds without a login. */
  async function expectRefreshRecovers(s: Awaited<ReturnType<typeof expiredServer>>): Promise<void> {
    expect(s.server.alive()).toBe(true);
    expect((await readStore(s.configDir)).raw).toBe(s.storeBefore);
    const status = await s.server.text('auth_status');
    expect(status.text).toContain('Signed in to drio');
    sandbox.clearFailures();
    sandbox.resetCounters();
    expect(await s.server.text('list_apps')).toMatchObject({ isError: false });
    expect(sandbox.counters.grants).toEqual({ refresh_token: 1 });
    expect(sandbox.counters.authorizations).toBe(0);
    expect(await browserOpens(s.browserLog)).toBe(0);
    await s.server.close();
  }

  it('the token endpoint resets the connection: "Could not reach" the token endpoint; the refresh token is kept', async () => {
    const s = await expiredServer('as-reset');
    sandbox.fail('POST /token', { kind: 'drop' });
    const result = await s.server.text('list_apps');
    expect(result).toEqual({ isError: true, text: `Could not reach ${sandbox.issuer}/oauth2/token (connection closed unexpectedly).` });
    expect(requests('GET /api/v1/apps')).toBe(0); // an expired token is never sent
    expect(sandbox.counters.invalidGrant).toBe(0);
    await expectRefreshRecovers(s);
  });

  it(`the token endpoint stalls: "Could not reach … (timed out)" after ${TIMEOUT_SECONDS} s`, async () => {
    const s = await expiredServer('as-stall');
    sandbox.fail('POST /token', { kind: 'delay', ms: 30_000, times: 1 });
    const started = Date.now();
    const result = await s.server.text('list_apps');
    expect(Date.now() - started).toBeLessThan(TIMEOUT_SECONDS * 1000 + 3000);
    expect(result).toEqual({ isError: true, text: `Could not reach ${sandbox.issuer}/oauth2/token (timed out).` });
    await expectRefreshRecovers(s);
  });

  it('the token endpoint answers 503: the refresh failure is reported, the refresh token is kept', async () => {
    const s = await expiredServer('as-503');
    sandbox.fail('POST /token', { kind: 'status', status: 503, code: 'temporarily_unavailable' });
    const result = await s.server.text('list_apps');
    expect(result).toEqual({ isError: true, text: `Refreshing the drio sign-in failed: ${sandbox.issuer}/oauth2/token answered HTTP 503. Try again in a moment.` });
    await expectRefreshRecovers(s);
  });

  it('the sign-in server is down but the token has not expired yet: the call succeeds on the current token', async () => {
    const dir = await signedInDir('as-down-early');
    // Inside the early-refresh margin (60 s), 30 s before expiry.
    const storeBefore = await ageStoredToken(dir.configDir, { expiresInSeconds: 30, lifetimeSeconds: 3600 });
    const server = await spawnServer(dir.env, transcript, 'as-down-early');
    sandbox.resetCounters();
    sandbox.fail('POST /token', { kind: 'drop' });
    expect(await server.text('list_apps')).toMatchObject({ isError: false });
    expect(requests('GET /api/v1/apps')).toBe(1);
    expect(server.logs().some((l) => l.includes('using the current token until it expires'))).toBe(true);
    expect((await readStore(dir.configDir)).raw).toBe(storeBefore);
    await server.close();
  });

  it('drio and its sign-in server entirely gone (connection refused): a clear error, and still signed in', async () => {
    const gone = await startSandbox();
    const configDir = path.join(work.dir, 'gone');
    const env = drioEnv(gone.apiUrl, configDir, path.join(work.dir, 'gone-browser.log'), { DRIO_MCP_REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) });
    try {
      await cliLogin(env, transcript);
      expect(transcript.leaks(gone.issuedSecrets())).toEqual([]);
    } finally {
      await gone.close();
    }
    const storeBefore = await ageStoredToken(configDir, { expiresInSeconds: -60, lifetimeSeconds: 3600 });
    const server = await spawnServer(env, transcript, 'gone');
    const result = await server.text('list_apps');
    expect(result).toEqual({ isError: true, text: `Could not reach ${gone.issuer}/oauth2/token (connection refused).` });
    // The next attempt rediscovers the sign-in server (it may have moved) and fails the same clear way.
    const again = await server.text('list_apps');
    expect(again).toEqual({ isError: true, text: `Could not reach ${gone.apiUrl}/.well-known/oauth-protected-resource (connection refused).` });
    const status = await server.text('auth_status');
    expect(status).toMatchObject({ isError: false });
    expect(status.text).toContain('A refresh token is stored');
    expect(server.alive()).toBe(true);
    expect((await readStore(configDir)).raw).toBe(storeBefore);
    await server.close();
  });
});

describe('discovery and registration faults on the first sign-in', () => {
  let server: ServerProcess;
  let configDir: string;
  let browserLog: string;
  let asMetadata: Record<string, unknown>;

  beforeAll(async () => {
    configDir = path.join(work.dir, 'first');
    browserLog = path.join(work.dir, 'first-browser.log');
    server = await spawnServer(drioEnv(sandbox.apiUrl, configDir, browserLog), transcript, 'first-sign-in');
    asMetadata = (await (await fetch(`${sandbox.apiUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  });
  afterAll(async () => server?.close());

  const without = (field: string) => Object.fromEntries(Object.entries(asMetadata).filter(([k]) => k !== field));

  /** Nothing was registered, no login was started, no browser opened, nothing was stored; the process lives. */
  async function expectNothingStarted(): Promise<void> {
    expect(server.alive()).toBe(true);
    expect(sandbox.counters.authorizations).toBe(0);
    expect(await browserOpens(browserLog)).toBe(0);
    const status = await server.text('auth_status');
    expect(status.text).toContain('Not signed in to drio');
  }

  it('authorization-server metadata without registration_endpoint', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /.well-known/oauth-authorization-server', { kind: 'json', body: without('registration_endpoint') });
    const result = await server.text('list_apps');
    expect(result).toEqual({
      isError: true,
      text: `The authorization server ${sandbox.issuer} has no registration_endpoint; drio-mcp needs dynamic client registration.`,
    });
    expect(sandbox.counters.registrations).toBe(0);
    await expectNothingStarted();
  });

  it('authorization-server metadata without PKCE S256', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /.well-known/oauth-authorization-server', { kind: 'json', body: { ...asMetadata, code_challenge_methods_supported: ['plain'] } });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toContain(`The authorization server ${sandbox.issuer} does not advertise PKCE with S256`);
    await expectNothingStarted();
  });

  it('authorization-server metadata without a token_endpoint', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /.well-known/oauth-authorization-server', { kind: 'json', body: without('token_endpoint') });
    const result = await server.text('list_apps');
    expect(result.isError).toBe(true);
    expect(result.text).toContain(`${sandbox.apiUrl}/.well-known/oauth-authorization-server is not valid authorization server metadata (token_endpoint`);
    await expectNothingStarted();
  });

  it('protected-resource metadata naming no authorization server', async () => {
    sandbox.resetCounters();
    sandbox.fail('GET /.well-known/oauth-protected-resource', { kind: 'json', body: { resource: sandbox.apiUrl } });
    const result = await server.text('list_apps');
    expect(result).toEqual({ isError: true, text: `${sandbox.apiUrl}/.well-known/oauth-protected-resource names no authorization server.` });
    await expectNothingStarted();
  });

  it('registration rejected (400 invalid_client_metadata): the server’s reason is shown', async () => {
    sandbox.resetCounters();
    sandbox.fail('POST /reg', { kind: 'status', status: 400, code: 'invalid_client_metadata', message: 'redirect_uris are not allowed' });
    const result = await server.text('list_apps');
    expect(result).toEqual({ isError: true, text: 'The sign-in server refused to register drio-mcp (invalid_client_metadata: redirect_uris are not allowed).' });
    expect(sandbox.counters.registrations).toBe(0);
    await expectNothingStarted();
  });

  it('once the sign-in server is fixed, the same process signs in and answers', async () => {
    sandbox.resetCounters();
    const result = await server.text('list_apps');
    expect(result).toMatchObject({ isError: false });
    expect(sandbox.counters.registrations).toBe(1);
    expect(sandbox.counters.authorizations).toBe(1);
    expect(await browserOpens(browserLog)).toBe(1);
    expect((await readStore(configDir)).json.tokens?.refresh_token).toBeTruthy();
  });
});

it('leaks no issued token or code in anything captured (stdout, stderr, results, log notifications)', () => {
  expectNoLeakedSecrets(transcript, sandbox.issuedSecrets(), 'faults.test.ts');
});
