// End to end against the drio sandbox (real oidc-provider, real HTTP, real files): no mocked fetch or OAuth client.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSession, type DrioAuthSession, type SessionDeps } from '../../src/auth/index.js';
import type { Config } from '../../src/config.js';
import { LoginPendingError } from '../../src/errors.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { capture, errorText, lastLoginUrl, tempDir, testConfig, type Capture } from './helpers.js';

let sb: Sandbox;
/** Everything any session wrote or threw in this file: scanned for secrets at the end. */
const transcript: string[] = [];
const sessions: DrioAuthSession[] = [];
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(async () => {
  await sb?.close();
});
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  sb.clearFailures();
  sb.setAccessTokenTtl(3600);
  sb.resetCounters();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await cleanup();
});

interface Harness {
  session: DrioAuthSession;
  out: Capture;
  opened: string[];
  config: Config;
  clock: { skewMs: number };
}

/** A session on the sandbox whose "browser" completes the login over HTTP (or does what `browser` says). */
function harness(
  overrides: Partial<Config> = {},
  options: { browser?: (url: string) => Promise<void>; deps?: Partial<SessionDeps> } = {},
): Harness {
  const out = capture();
  const opened: string[] = [];
  const clock = { skewMs: 0 };
  const config = testConfig(sb.apiUrl, dir, overrides);
  const session = createSession(config, {
    logger: out.logger,
    stderr: out.stderr,
    now: () => Date.now() + clock.skewMs,
    refreshMarginSeconds: 5,
    openUrl: async (url) => {
      opened.push(url);
      await (options.browser ?? (async (u: string) => void (await sb.completeLogin(u))))(url);
    },
    ...options.deps,
  });
  sessions.push(session);
  captures.push(out); // live: scanned for secrets at the end
  return { session, out, opened, config, clock };
}
const captures: Capture[] = [];
const record = (err: unknown) => {
  transcript.push(errorText(err));
  return err;
};

async function me(token: string): Promise<number> {
  const res = await fetch(`${sb.apiUrl}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('first use', () => {
  it('discovers, registers once, opens one browser tab, stores tokens 0600 in a 0700 dir', async () => {
    const h = harness();
    const token = await h.session.getAccessToken();
    expect(await me(token)).toBe(200);
    expect(sb.counters.registrations).toBe(1);
    expect(sb.counters.authorizations).toBe(1);
    expect(sb.counters.grants).toEqual({ authorization_code: 1 });
    expect(h.opened).toHaveLength(1);
    expect(lastLoginUrl(h.out)).toBe(h.opened[0]);
    expect(await mode(dir)).toBe(0o700);
    const status = await h.session.status();
    expect(await mode(status.storePath)).toBe(0o600);
    expect(status).toMatchObject({ apiUrl: sb.apiUrl, signedIn: true, canRefresh: true, issuer: sb.issuer });
    const file = JSON.parse(await readFile(status.storePath, 'utf8'));
    expect(file.tokens.expires_at).toBeGreaterThan(Date.now() / 1000 + 3000);
    expect(file.tokens.refresh_token).toEqual(expect.any(String));
    expect(file.client.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(file.tokens.account).toMatchObject({ email: sb.user.email });
  });

  it('serves warm calls from memory: no HTTP to the sign-in server, no disk read', async () => {
    const h = harness();
    const token = await h.session.getAccessToken();
    sb.resetCounters();
    await writeFile((await h.session.status()).storePath, 'gone'); // a disk read now would see garbage
    for (let i = 0; i < 20; i += 1) expect(await h.session.getAccessToken()).toBe(token);
    expect(sb.counters.requests).toEqual({});
    expect(h.out.text()).not.toMatch(/warn/);
  });

  it('does no network I/O when created', async () => {
    harness();
    await new Promise((r) => setTimeout(r, 50));
    expect(sb.counters.requests).toEqual({});
  });
});

describe('second process', () => {
  it('reuses the stored tokens: no registration, no browser, no grant', async () => {
    await harness().session.getAccessToken();
    sb.resetCounters();
    const second = harness();
    const token = await second.session.getAccessToken();
    expect(await me(token)).toBe(200);
    expect(second.opened).toEqual([]);
    expect(sb.counters.registrations).toBe(0);
    expect(sb.counters.grants).toEqual({});
    expect(second.out.lines.filter((l) => l.includes('opening this URL'))).toEqual([]);
  });
});

describe('refresh', () => {
  it('refreshes an expired access token exactly once', async () => {
    const h = harness();
    const first = await h.session.getAccessToken();
    sb.resetCounters();
    h.clock.skewMs = 2 * 3600_000;
    const second = await h.session.getAccessToken();
    expect(second).not.toBe(first);
    expect(await h.session.getAccessToken()).toBe(second);
    expect(sb.counters.grants).toEqual({ refresh_token: 1 });
    expect(h.opened).toHaveLength(1); // only the first login
  });

  it('refreshes early, inside the margin before expiry', async () => {
    sb.setAccessTokenTtl(60);
    const h = harness();
    const first = await h.session.getAccessToken();
    sb.resetCounters();
    h.clock.skewMs = 56_000; // 4 s left, margin is 5 s
    expect(await h.session.getAccessToken()).not.toBe(first);
    expect(sb.counters.grants).toEqual({ refresh_token: 1 });
  });

  it('20 concurrent calls after expiry make exactly one refresh grant', async () => {
    const h = harness();
    await h.session.getAccessToken();
    sb.resetCounters();
    h.clock.skewMs = 2 * 3600_000;
    const tokens = await Promise.all(Array.from({ length: 20 }, () => h.session.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(sb.counters.grants).toEqual({ refresh_token: 1 });
    expect(sb.counters.invalidGrant).toBe(0);
  });

  it('refreshes once after drio rejects a token (401), and not again for the same rejected token', async () => {
    sb.setAccessTokenTtl(1);
    const h = harness();
    const first = await h.session.getAccessToken();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await me(first)).toBe(401);
    sb.setAccessTokenTtl(3600);
    sb.resetCounters();
    const [a, b] = await Promise.all([h.session.getAccessToken({ rejectedToken: first }), h.session.getAccessToken({ rejectedToken: first })]);
    expect(a).toBe(b);
    expect(await h.session.getAccessToken({ rejectedToken: first })).toBe(a);
    expect(await me(a)).toBe(200);
    expect(sb.counters.grants).toEqual({ refresh_token: 1 });
  });

  it('uses tokens another process just rotated instead of refreshing again', async () => {
    const a = harness();
    await a.session.getAccessToken();
    const b = harness(); // loads the same tokens from disk
    await b.session.getAccessToken();
    sb.resetCounters();
    a.clock.skewMs = b.clock.skewMs = 2 * 3600_000;
    const fromA = await a.session.getAccessToken();
    const fromB = await b.session.getAccessToken();
    expect(fromB).toBe(fromA);
    expect(sb.counters.grants).toEqual({ refresh_token: 1 });
    expect(sb.counters.invalidGrant).toBe(0);
  });

  it('a revoked grant (invalid_grant) leads to one new login and one browser tab, no crash', async () => {
    const h = harness();
    const first = await h.session.getAccessToken();
    await sb.revokeAllGrants();
    sb.resetCounters();
    expect(await me(first)).toBe(401);
    const next = await h.session.getAccessToken({ rejectedToken: first });
    expect(await me(next)).toBe(200);
    expect(sb.counters.invalidGrant).toBe(1);
    expect(sb.counters.authorizations).toBe(1);
    expect(sb.counters.registrations).toBe(0);
    expect(h.opened).toHaveLength(2);
    expect(h.out.text()).toMatch(/no longer valid \(invalid_grant\)/);
  });

  it('on invalid_client drops the registration and re-registers at the next login', async () => {
    const h = harness();
    await h.session.getAccessToken();
    sb.resetCounters();
    sb.fail('POST /oauth2/token', { kind: 'status', status: 401, code: 'invalid_client', times: 1 });
    h.clock.skewMs = 2 * 3600_000;
    const token = await h.session.getAccessToken();
    expect(await me(token)).toBe(200);
    expect(sb.counters.registrations).toBe(1);
    expect(h.opened).toHaveLength(2);
  });

  it('an unreachable token endpoint gives a clear network error, keeps the tokens, and recovers', async () => {
    const h = harness();
    await h.session.getAccessToken();
    h.clock.skewMs = 2 * 3600_000;
    sb.fail('POST /oauth2/token', { kind: 'drop', times: 1 });
    const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_NETWORK', message: expect.stringMatching(/Could not reach http:\/\/127\.0\.0\.1:\d+\/oauth2\/token/) });
    expect((await h.session.status()).canRefresh).toBe(true);
    expect(await me(await h.session.getAccessToken())).toBe(200);
    expect(h.opened).toHaveLength(1);
  });

  it('a rejected token with an unreachable token endpoint gives ERR_NETWORK, not a login', async () => {
    const h = harness();
    const first = await h.session.getAccessToken();
    sb.fail('POST /oauth2/token', { kind: 'drop', times: 1 });
    const err = record(await h.session.getAccessToken({ rejectedToken: first }).catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_NETWORK' });
    expect(h.opened).toHaveLength(1);
    expect(await h.session.getAccessToken({ rejectedToken: first })).not.toBe(first);
  });

  it('a stalled token endpoint times out (ERR_TIMEOUT) instead of hanging', async () => {
    const h = harness({ requestTimeoutMs: 1000 });
    await h.session.getAccessToken();
    h.clock.skewMs = 2 * 3600_000;
    sb.fail('POST /oauth2/token', { kind: 'delay', ms: 4000, times: 1 });
    const started = Date.now();
    const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringMatching(/\/oauth2\/token \(timed out\)/) });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('keeps using a not-yet-expired token when an early refresh fails', async () => {
    sb.setAccessTokenTtl(60);
    const h = harness();
    const first = await h.session.getAccessToken();
    h.clock.skewMs = 56_000;
    sb.fail('POST /oauth2/token', { kind: 'status', status: 503, times: 1 });
    expect(await h.session.getAccessToken()).toBe(first);
    expect(h.out.text()).toMatch(/Could not refresh the drio sign-in early/);
  });
});

describe('login flow', () => {
  it('one flow for concurrent callers: one browser tab, one URL on stderr', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = harness({}, { browser: async (url) => { await gate; await sb.completeLogin(url); } });
    const calls = Array.from({ length: 5 }, () => h.session.getAccessToken());
    await new Promise((r) => setTimeout(r, 300));
    release();
    const tokens = await Promise.all(calls);
    expect(new Set(tokens).size).toBe(1);
    expect(h.opened).toHaveLength(1);
    expect(h.out.lines.filter((l) => l.includes('opening this URL'))).toHaveLength(1);
    expect(sb.counters.authorizations).toBe(1);
  });

  it('waitForLoginMs rejects with LoginPendingError(url) while the login goes on in the background', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = harness({}, { browser: async (url) => { await gate; await sb.completeLogin(url); } });
    const err = record(await h.session.getAccessToken({ waitForLoginMs: 100 }).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(LoginPendingError);
    const url = (err as LoginPendingError).url;
    expect(url).toBe(lastLoginUrl(h.out));
    expect((await h.session.status()).loginInProgress?.url).toBe(url);
    // A second impatient caller gets the same URL, no new tab.
    expect(await h.session.getAccessToken({ waitForLoginMs: 0 }).catch((e: LoginPendingError) => e.url)).toBe(url);
    release();
    const token = await h.session.getAccessToken();
    expect(await me(token)).toBe(200);
    expect(h.opened).toHaveLength(1);
  });

  it('presenter receives the URL once and decides whether to open the browser', async () => {
    const presented: string[] = [];
    const h = harness({}, {
      deps: {
        presentLoginUrl: async (url, openBrowser) => {
          presented.push(url);
          await openBrowser();
          await openBrowser(); // at most one tab per flow, however often asked
        },
      },
    });
    await h.session.getAccessToken();
    expect(presented).toHaveLength(1);
    expect(h.opened).toHaveLength(1);
  });

  it('DRIO_MCP_NO_BROWSER: prints the URL but opens nothing', async () => {
    const h = harness({ openBrowser: false, loginTimeoutMs: 5_000 });
    const pending = h.session.getAccessToken();
    let url: string | undefined;
    for (let i = 0; i < 100 && !(url = lastLoginUrl(h.out)); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(url).toBeDefined();
    expect(h.opened).toEqual([]);
    await sb.completeLogin(url!); // the user copies it by hand
    expect(await me(await pending)).toBe(200);
  });

  it('error=access_denied: clear ERR_AUTH_DENIED, an honest page, and the next call starts a new flow', async () => {
    let deny = true;
    let page: Promise<{ status: number; body: string }> | undefined;
    const h = harness({}, { browser: async (url) => void (await (page = sb.completeLogin(url, { deny }))) });
    const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_AUTH_DENIED' });
    expect((await page)?.status).toBe(403);
    expect((await page)?.body).toMatch(/drio-mcp.*not given access/s);
    deny = false;
    expect(await me(await h.session.getAccessToken())).toBe(200);
    expect(h.opened).toHaveLength(2);
  });

  it('state mismatch: the forged callback is refused with a mismatch page; the real one still signs in', async () => {
    let forged: { status: number; body: string } | undefined;
    const h = harness({}, {
      browser: async (url) => {
        const redirect = new URL(new URL(url).searchParams.get('redirect_uri')!);
        redirect.search = '?code=forged-code&state=not-the-state';
        const res = await fetch(redirect);
        forged = { status: res.status, body: await res.text() };
        await sb.completeLogin(url);
      },
    });
    expect(await me(await h.session.getAccessToken())).toBe(200);
    expect(forged?.status).toBe(400);
    expect(forged?.body).toMatch(/drio-mcp.*mismatch/s);
    expect(sb.counters.grants).toEqual({ authorization_code: 1 });
  });

  it('checks iss: a callback with the right state but a wrong or missing iss is refused before any token request', async () => {
    for (const iss of ['https://evil.example', undefined]) {
      let page: { status: number; body: string } | undefined;
      const h = harness({}, {
        browser: async (url) => {
          const auth = new URL(url);
          const redirect = new URL(auth.searchParams.get('redirect_uri')!);
          redirect.searchParams.set('code', 'some-code');
          redirect.searchParams.set('state', auth.searchParams.get('state')!);
          if (iss) redirect.searchParams.set('iss', iss);
          const res = await fetch(redirect);
          page = { status: res.status, body: await res.text() };
        },
      });
      sb.resetCounters();
      const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
      expect(err).toMatchObject({ code: 'ERR_AUTH_OAUTH' });
      expect((err as Error).message).toMatch(/"iss"/);
      await new Promise((r) => setTimeout(r, 20));
      expect(page?.status).toBe(400);
      expect(page?.body).toContain('Sign-in failed');
      expect(sb.counters.grants).toEqual({});
    }
  });

  it('a stray /favicon.ico request does not end the flow', async () => {
    let favicon = 0;
    const h = harness({}, {
      browser: async (url) => {
        const origin = new URL(new URL(url).searchParams.get('redirect_uri')!).origin;
        const res = await fetch(`${origin}/favicon.ico`);
        favicon = res.status;
        await res.arrayBuffer();
        await sb.completeLogin(url);
      },
    });
    expect(await me(await h.session.getAccessToken())).toBe(200);
    expect(favicon).toBe(404);
  });

  it('times out an unanswered login with ERR_AUTH_LOGIN_TIMEOUT and closes the listener', async () => {
    const h = harness({ loginTimeoutMs: 300 }, { browser: async () => undefined });
    const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_AUTH_LOGIN_TIMEOUT' });
    const port = new URL(new URL(h.opened[0]!).searchParams.get('redirect_uri')!).port;
    await new Promise((r) => setTimeout(r, 300));
    await expect(fetch(`http://127.0.0.1:${port}/callback`)).rejects.toThrow();
    expect((await h.session.status()).loginInProgress).toBeUndefined();
  });

  it('a busy registered callback port: listens elsewhere, re-registers, signs in', async () => {
    await harness().session.getAccessToken();
    const storePath = (await harness().session.status()).storePath;
    const registered = JSON.parse(await readFile(storePath, 'utf8')).client.redirect_uri as string;
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(Number(new URL(registered).port), '127.0.0.1', r));
    try {
      sb.resetCounters();
      const h = harness();
      await h.session.login();
      expect(sb.counters.registrations).toBe(1);
      const now = JSON.parse(await readFile(storePath, 'utf8')).client.redirect_uri as string;
      expect(now).not.toBe(registered);
      expect(await me(await h.session.getAccessToken())).toBe(200);
    } finally {
      blocker.close();
    }
  });

  it('reuses the registered port when it is free: no new registration', async () => {
    await harness().session.getAccessToken();
    sb.resetCounters();
    const h = harness();
    await h.session.login();
    expect(sb.counters.registrations).toBe(0);
    expect(sb.counters.authorizations).toBe(1);
  });

  it('a pinned DRIO_MCP_CALLBACK_PORT that is busy gives ERR_AUTH_CALLBACK_PORT, not a crash', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const h = harness({ callbackPort: port });
      const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
      expect(err).toMatchObject({ code: 'ERR_AUTH_CALLBACK_PORT', message: expect.stringMatching(new RegExp(`DRIO_MCP_CALLBACK_PORT=${port}`)) });
      expect(h.opened).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it('a pinned free DRIO_MCP_CALLBACK_PORT is used for the redirect URI', async () => {
    const probe: Server = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const h = harness({ callbackPort: port });
    await h.session.getAccessToken();
    expect(new URL(h.opened[0]!).searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${port}/callback`);
  });

  it('re-registers when the stored registration belongs to another issuer', async () => {
    await harness().session.getAccessToken();
    const storePath = (await harness().session.status()).storePath;
    const file = JSON.parse(await readFile(storePath, 'utf8'));
    file.client.issuer = 'https://old-issuer.example';
    delete file.tokens;
    await writeFile(storePath, JSON.stringify(file));
    sb.resetCounters();
    await harness().session.getAccessToken();
    expect(sb.counters.registrations).toBe(1);
  });
});

describe('registration problems', () => {
  it('a refused registration gives ERR_AUTH_REGISTRATION, opens nothing, and the next call retries', async () => {
    sb.fail('POST /oauth2/register', { kind: 'status', status: 400, code: 'invalid_client_metadata', message: 'nope', times: 1 });
    const h = harness();
    const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_AUTH_REGISTRATION', message: expect.stringMatching(/invalid_client_metadata/) });
    expect(h.opened).toEqual([]);
    expect(await me(await h.session.getAccessToken())).toBe(200);
    expect(sb.counters.registrations).toBe(1);
  });
});

describe('store problems', () => {
  it('a corrupt credentials file means signed out with a warning; signing in repairs it', async () => {
    const h = harness();
    const storePath = (await h.session.status()).storePath;
    await writeFile(storePath, '{ not json', { mode: 0o600 });
    expect(await me(await h.session.getAccessToken())).toBe(200);
    expect(h.out.text()).toMatch(/\[warn\].*not valid JSON; treating this as signed out/);
    expect(JSON.parse(await readFile(storePath, 'utf8')).tokens.access_token).toEqual(expect.any(String));
  });
});

describe('discovery problems', () => {
  it('an unreachable drio host gives ERR_NETWORK and starts no login', async () => {
    const probe: Server = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const out = capture();
    const opened: string[] = [];
    const session = createSession(testConfig(`http://127.0.0.1:${port}`, dir), { logger: out.logger, stderr: out.stderr, openUrl: async (u) => void opened.push(u) });
    sessions.push(session);
    const err = record(await session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_NETWORK' });
    expect(opened).toEqual([]);
  });

  it('a sign-in server failing discovery (500) gives ERR_AUTH_DISCOVERY', async () => {
    sb.fail('GET /.well-known/oauth-protected-resource', { kind: 'status', status: 500, times: 1 });
    const h = harness();
    const err = record(await h.session.getAccessToken().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_AUTH_DISCOVERY', message: expect.stringMatching(/HTTP 500/) });
    expect(h.opened).toEqual([]);
  });
});

describe('logout and status', () => {
  it('status needs no network; logout revokes at the server and removes local tokens', async () => {
    const h = harness();
    const token = await h.session.getAccessToken();
    sb.resetCounters();
    const status = await h.session.status();
    expect(sb.counters.requests).toEqual({});
    expect(JSON.stringify(status)).not.toContain(token);
    expect(await h.session.logout()).toEqual({ revoked: true });
    expect(sb.counters.revocations).toBe(1);
    expect(await h.session.status()).toMatchObject({ signedIn: false, canRefresh: false });
    expect(JSON.parse(await readFile(status.storePath, 'utf8')).tokens).toBeUndefined();
  });

  it('logout still removes local tokens when revocation fails', async () => {
    const h = harness();
    await h.session.getAccessToken();
    sb.fail('POST /oauth2/revoke', { kind: 'status', status: 503, times: 1 });
    expect(await h.session.logout()).toEqual({ revoked: false });
    expect((await h.session.status()).signedIn).toBe(false);
    expect(h.out.text()).toMatch(/Local tokens are removed anyway/);
  });
});

describe('secrets', () => {
  it('no issued token or code ever appears on stderr or in an error message', () => {
    const secrets = sb.issuedSecrets();
    expect(secrets.length).toBeGreaterThan(20);
    const everything = [...transcript, ...captures.map((c) => c.text())].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    const leaked = secrets.filter((s) => everything.includes(s));
    expect(leaked).toEqual([]);
  });
});
