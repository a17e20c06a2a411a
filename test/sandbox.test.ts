// Proves the drio sandbox end to end with openid-client alone (no drio-mcp code): discovery from the drio host,
// dynamic registration, PKCE login through the HTML login page, tokens, API calls, rotation, expiry, revocation,
// forced failures and counters.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { startSandbox, type Sandbox } from './sandbox/index.js';

const FAKE_BROWSER = fileURLToPath(new URL('./sandbox/fake-browser.mjs', import.meta.url));

let sb: Sandbox;
let asMetadata: client.ServerMetadata;

beforeAll(async () => {
  sb = await startSandbox();
  asMetadata = (await (await fetch(`${sb.apiUrl}/.well-known/oauth-authorization-server`)).json()) as client.ServerMetadata;
});

afterAll(async () => {
  await sb?.close();
});

/** Register a public native client exactly like the seed page does (plain fetch). */
async function registerClient(redirectUri: string): Promise<client.Configuration> {
  const res = await fetch(asMetadata.registration_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'sandbox test',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  expect(res.status).toBe(201);
  const { client_id } = (await res.json()) as { client_id: string };
  const config = new client.Configuration(asMetadata, client_id, undefined, client.None());
  client.allowInsecureRequests(config);
  return config;
}

async function startAuthorization(config: client.Configuration, redirectUri: string) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return { url, verifier, state };
}

/** Register, log in through the HTML page (no listener on the callback: completeLogin tolerates that), redeem the code. */
async function loginFlow(port = 45000 + Math.floor(Math.random() * 1000)) {
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const config = await registerClient('http://127.0.0.1/callback');
  const { url, verifier, state } = await startAuthorization(config, redirectUri);
  const login = await sb.completeLogin(url.href);
  const tokens = await client.authorizationCodeGrant(config, new URL(login.callbackUrl), {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  return { config, tokens, login };
}

const api = (path: string, token?: string, init: RequestInit = {}) =>
  fetch(`${sb.apiUrl}${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });

const connectFails = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

async function listenCallback(): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('You can close this window.');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe('drio sandbox', () => {
  it('binds both servers to 127.0.0.1 only', async () => {
    for (const base of [sb.apiUrl, sb.issuer]) {
      const u = new URL(base);
      expect(u.hostname).toBe('127.0.0.1');
      expect(base.endsWith('/')).toBe(false);
      expect(await connectFails('127.0.0.1', Number(u.port))).toBe(false);
      // Another loopback address on the same port: nobody there when bound to 127.0.0.1 specifically.
      expect(await connectFails('127.0.0.2', Number(u.port))).toBe(true);
    }
  });

  it('serves discovery on the drio host pointing at the issuer', async () => {
    const prm = (await (await fetch(`${sb.apiUrl}/.well-known/oauth-protected-resource`)).json()) as Record<string, unknown>;
    expect(prm).toMatchObject({
      resource: sb.apiUrl,
      authorization_servers: [sb.issuer],
      scopes_supported: ['openid', 'profile', 'email'],
      bearer_methods_supported: ['header'],
    });
    expect(asMetadata.issuer).toBe(sb.issuer);
    expect(asMetadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(asMetadata.token_endpoint_auth_methods_supported).toContain('none');
    expect(asMetadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    for (const k of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'jwks_uri'] as const) {
      expect(String(asMetadata[k]).startsWith(`${sb.issuer}/`)).toBe(true);
    }
    // openid-client's own discovery against the issuer agrees with the drio host's copy.
    const config = await client.discovery(new URL(sb.issuer), 'unused', undefined, undefined, { execute: [client.allowInsecureRequests] });
    const server = config.serverMetadata();
    expect(server.token_endpoint).toBe(asMetadata.token_endpoint);
    expect(server.registration_endpoint).toBe(asMetadata.registration_endpoint);
  });

  it('registers dynamically via openid-client, logs in through the HTML page and calls the API', async () => {
    sb.resetCounters();
    const cb = await listenCallback();
    try {
      const redirectUri = `http://127.0.0.1:${cb.port}/callback`;
      const config = await client.dynamicClientRegistration(
        new URL(sb.issuer),
        {
          client_name: 'openid-client',
          redirect_uris: ['http://127.0.0.1/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
          application_type: 'native',
        },
        client.None(),
        { execute: [client.allowInsecureRequests] },
      );
      expect(config.clientMetadata().token_endpoint_auth_method).toBe('none');
      // Native client: any loopback port matches the registered port-less redirect URI.
      const { url, verifier, state } = await startAuthorization(config, redirectUri);
      const login = await sb.completeLogin(url.href);
      expect(login.status).toBe(200);
      expect(login.body).toContain('close this window');
      expect(cb.hits).toHaveLength(1);
      const callback = new URL(login.callbackUrl);
      expect(callback.origin + callback.pathname).toBe(redirectUri);
      expect(callback.searchParams.get('state')).toBe(state);
      const code = callback.searchParams.get('code')!;

      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.token_type.toLowerCase()).toBe('bearer');
      expect(tokens.expires_in).toBe(3600);
      expect(tokens.refresh_token).toBeTruthy();
      const claims = decodeJwt(tokens.access_token);
      expect(claims).toMatchObject({ iss: sb.issuer, aud: sb.apiUrl, sub: sb.user.id });
      expect(claims.jti).toBeTruthy();

      const apps = await api('/api/v1/apps', tokens.access_token);
      expect(apps.status).toBe(200);
      const body = (await apps.json()) as { apps: { id: string; templateId: string }[] };
      expect(body.apps.length).toBeGreaterThanOrEqual(3);
      expect(body.apps.map((a) => a.id)).toContain('app_123');
      const me = (await (await api('/api/v1/me', tokens.access_token)).json()) as { user: { email: string } };
      expect(me.user.email).toBe(sb.user.email);

      expect(sb.issuedSecrets()).toEqual(expect.arrayContaining([code, tokens.access_token, tokens.refresh_token!]));
      expect(sb.counters.registrations).toBe(1);
      expect(sb.counters.authorizations).toBe(1);
      expect(sb.counters.grants).toEqual({ authorization_code: 1 });
      expect(sb.counters.requests['GET /api/v1/apps']).toBe(1);
      expect(sb.counters.requests['POST /oauth2/token']).toBe(1);
      expect(sb.counters.requests['POST /token']).toBe(1);
      sb.resetCounters();
      expect(sb.counters).toEqual({ requests: {}, grants: {}, invalidGrant: 0, registrations: 0, authorizations: 0, revocations: 0 });
    } finally {
      cb.server.close();
    }
  });

  it('rotates refresh tokens and rejects reuse with invalid_grant', async () => {
    const { config, tokens } = await loginFlow();
    sb.resetCounters();
    const next = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(next.refresh_token).toBeTruthy();
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(next.access_token).not.toBe(tokens.access_token);
    expect(sb.counters.grants.refresh_token).toBe(1);
    const reuse = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e: unknown) => e);
    expect(reuse).toBeInstanceOf(client.ResponseBodyError);
    expect((reuse as client.ResponseBodyError).error).toBe('invalid_grant');
    expect(sb.counters.invalidGrant).toBe(1);
  });

  it('answers 401 with WWW-Authenticate once the access token expires', async () => {
    sb.setAccessTokenTtl(1);
    try {
      const { tokens } = await loginFlow();
      expect(tokens.expires_in).toBe(1);
      expect((await api('/api/v1/apps', tokens.access_token)).status).toBe(200);
      const exp = decodeJwt(tokens.access_token).exp!;
      await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 50));
      const res = await api('/api/v1/apps', tokens.access_token);
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toContain(`resource_metadata="${sb.apiUrl}/.well-known/oauth-protected-resource"`);
      expect(challenge).toContain('error="invalid_token"');
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('unauthorized');
    } finally {
      sb.setAccessTokenTtl(3600);
    }
    // Without a token: the challenge has no error attribute.
    const anon = await api('/api/v1/apps');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${sb.apiUrl}/.well-known/oauth-protected-resource"`);
  });

  it('uses the drio error envelope with a fresh requestId, strict paths, validation and commands', async () => {
    const { tokens } = await loginFlow();
    const t = tokens.access_token;
    const a = await api('/api/v1/apps/app_nope', t);
    const b = await api('/api/v1/apps/app_nope', t);
    expect(a.status).toBe(404);
    const ea = (await a.json()) as { error: { code: string; message: string; details: unknown; requestId: string } };
    const eb = (await b.json()) as { error: { requestId: string } };
    expect(ea.error).toMatchObject({ code: 'not_found', message: 'App not found', details: null });
    expect(ea.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(eb.error.requestId).not.toBe(ea.error.requestId);
    expect((await api('/api/v1/nothing-here', t)).status).toBe(404);
    expect((await api('/api/v1/apps/app_123%2Fconfig', t)).status).toBe(404); // one decoded segment, not two
    expect((await api('/api/v1/apps/app_foreign', t)).status).toBe(404); // someone else's app
    expect((await api('/api/v1/templates/tpl_nope')).status).toBe(404);

    const templates = (await (await api('/api/v1/templates')).json()) as { templates: { id: string }[] };
    expect(templates.templates.length).toBeGreaterThanOrEqual(3);
    for (const sub of ['config', 'tools', 'widgets', 'auth']) {
      const res = await api(`/api/v1/apps/app_123/${sub}`, t);
      expect(res.status, sub).toBe(200);
    }
    const auth = (await (await api('/api/v1/apps/app_123/auth', t)).json()) as { auth: unknown[]; providers: unknown[] };
    expect(auth.auth.length).toBeGreaterThan(0);
    expect(auth.providers.length).toBeGreaterThan(0);

    const invalid = await api('/api/v1/apps', t, { method: 'POST', body: JSON.stringify({ name: 'x', templateId: 'tpl_nope' }) });
    expect(invalid.status).toBe(422);
    const inv = (await invalid.json()) as { error: { code: string; details: { fields: { field: string }[] } } };
    expect(inv.error.code).toBe('validation_error');
    expect(inv.error.details.fields.map((f) => f.field)).toEqual(['templateId']);
    const created = await api('/api/v1/apps', t, { method: 'POST', body: JSON.stringify({ name: 'Difference Engine', templateId: 'tpl_blank' }) });
    expect(created.status).toBe(201);
    const app = ((await created.json()) as { app: { id: string; status: string } }).app;
    expect(app.status).toBe('draft');

    const run = (body: unknown) => api(`/api/v1/apps/${app.id}/commands`, t, { method: 'POST', body: JSON.stringify(body) });
    const deploy = await run({ command: 'deploy', args: {} });
    expect(deploy.status).toBe(200);
    const cmd = ((await deploy.json()) as { command: Record<string, unknown> }).command;
    expect(cmd).toMatchObject({ command: 'deploy', status: 'succeeded' });
    expect(typeof cmd.id).toBe('string');
    expect(typeof cmd.createdAt).toBe('string');
    expect(((await (await api(`/api/v1/apps/${app.id}`, t)).json()) as { app: { status: string } }).app.status).toBe('published');
    expect((await run({ command: 'validate' })).status).toBe(200);
    const unknown = await run({ command: 'explode' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    const missing = await run({ args: {} });
    expect(missing.status).toBe(422);
  });

  it('forces failures: status with Retry-After, malformed JSON, delay, dropped connection', async () => {
    const { tokens } = await loginFlow();
    const t = tokens.access_token;
    sb.resetCounters();

    sb.fail('GET /api/v1/apps', { kind: 'status', status: 503, retryAfter: 2, times: 1 });
    const s = await api('/api/v1/apps', t);
    expect(s.status).toBe(503);
    expect(s.headers.get('retry-after')).toBe('2');
    const se = (await s.json()) as { error: { code: string; requestId: string } };
    expect(se.error.code).toBe('service_unavailable');
    expect(se.error.requestId).toBeTruthy();
    expect((await api('/api/v1/apps', t)).status).toBe(200); // times: 1

    sb.fail('GET /api/v1/apps/:appId', { kind: 'status', status: 410, code: 'gone', message: 'v1 is retired' });
    const gone = await api('/api/v1/apps/app_123', t);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'gone', message: 'v1 is retired' });
    expect((await api('/api/v1/apps/app_123', t)).status).toBe(410); // no times: until cleared
    sb.clearFailures();
    expect((await api('/api/v1/apps/app_123', t)).status).toBe(200);

    sb.fail('GET /api/v1/apps/:appId/config', { kind: 'malformed', times: 1 });
    const bad = await api('/api/v1/apps/app_123/config', t);
    expect(bad.status).toBe(200);
    await expect(bad.json()).rejects.toThrow();

    sb.fail('GET /api/v1/templates', { kind: 'delay', ms: 150, times: 1 });
    const started = Date.now();
    const delayed = await api('/api/v1/templates');
    expect(delayed.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    sb.fail('GET /.well-known/oauth-protected-resource', { kind: 'drop', times: 1 });
    await expect(fetch(`${sb.apiUrl}/.well-known/oauth-protected-resource`)).rejects.toThrow();
    expect((await fetch(`${sb.apiUrl}/.well-known/oauth-protected-resource`)).status).toBe(200);
    expect(sb.counters.requests['GET /api/v1/apps']).toBe(2);
    expect(sb.counters.requests['GET /.well-known/oauth-protected-resource']).toBe(2);

    // A custom JSON answer, e.g. a discovery document with a field missing.
    sb.fail('GET /.well-known/oauth-authorization-server', { kind: 'json', body: { issuer: sb.issuer }, times: 1 });
    const custom = await fetch(`${sb.apiUrl}/.well-known/oauth-authorization-server`);
    expect([custom.status, await custom.json()]).toEqual([200, { issuer: sb.issuer }]);
    expect(((await (await fetch(`${sb.apiUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>).registration_endpoint).toBeTruthy();

    // Authorization server routes, by oidc-provider's default names.
    sb.fail('POST /reg', { kind: 'status', status: 500, times: 1 });
    const reg = await fetch(asMetadata.registration_endpoint!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(reg.status).toBe(500);
    expect(((await reg.json()) as { error: string }).error).toBe('server_error');
    const { config, tokens: t2 } = await loginFlow();
    sb.fail('POST /token', { kind: 'status', status: 429, retryAfter: 1, times: 1 });
    const limited = await client.refreshTokenGrant(config, t2.refresh_token!).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Error);
    sb.fail('POST /oauth2/token', { kind: 'malformed', times: 1 });
    await expect(client.refreshTokenGrant(config, t2.refresh_token!)).rejects.toThrow();
    // The forced failures never reached the provider: the refresh token still works.
    expect((await client.refreshTokenGrant(config, t2.refresh_token!)).access_token).toBeTruthy();
  });

  it("accepts the seed's authorize request without scope, and requires PKCE", async () => {
    const redirectUri = 'http://127.0.0.1:45998/callback';
    const config = await registerClient(redirectUri);
    const verifier = client.randomPKCECodeVerifier();
    const bare = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'seed',
    });
    const login = await sb.completeLogin(bare.href);
    const tokens = await client.authorizationCodeGrant(config, new URL(login.callbackUrl), { pkceCodeVerifier: verifier, expectedState: 'seed' });
    expect(tokens.refresh_token).toBeTruthy();
    expect((await api('/api/v1/me', tokens.access_token)).status).toBe(200);

    const noPkce = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, state: 'x' });
    const refused = new URL((await sb.completeLogin(noPkce.href)).callbackUrl);
    expect(refused.searchParams.get('error')).toBe('invalid_request');
  });

  it('reports a denied login to the callback as access_denied', async () => {
    sb.resetCounters();
    const config = await registerClient('http://127.0.0.1/callback');
    const { url, state, verifier } = await startAuthorization(config, 'http://127.0.0.1:45999/callback');
    const denied = await sb.completeLogin(url.href, { deny: true });
    const cb = new URL(denied.callbackUrl);
    expect(cb.searchParams.get('error')).toBe('access_denied');
    expect(cb.searchParams.get('state')).toBe(state);
    const err = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.AuthorizationResponseError);
    expect((err as client.AuthorizationResponseError).error).toBe('access_denied');
    expect(sb.counters.authorizations).toBe(0);
    // An unknown user gets the form back with an error, and the driver says so.
    const again = await startAuthorization(config, 'http://127.0.0.1:45999/callback');
    await expect(sb.completeLogin(again.url.href, { username: 'mallory' })).rejects.toThrow(/Unknown user/);
  });

  it('fake-browser.mjs completes the login (and denies) without the sandbox object', async () => {
    expect((await stat(FAKE_BROWSER)).mode & 0o111).not.toBe(0);
    const dir = await mkdtemp(join(tmpdir(), 'fake-browser-'));
    const log = join(dir, 'opens.log');
    const cb = await listenCallback();
    try {
      const config = await registerClient('http://127.0.0.1/callback');
      const run = (url: string, env: Record<string, string>) =>
        new Promise<{ code: number }>((resolve) => {
          execFile(FAKE_BROWSER, [url], { env: { ...process.env, FAKE_BROWSER_LOG: log, ...env } }, (error) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0 }),
          );
        });
      const ok = await startAuthorization(config, `http://127.0.0.1:${cb.port}/callback`);
      expect(await run(ok.url.href, {})).toEqual({ code: 0 });
      const no = await startAuthorization(config, `http://127.0.0.1:${cb.port}/callback`);
      expect(await run(no.url.href, { FAKE_BROWSER_DENY: '1' })).toEqual({ code: 0 });
      expect(cb.hits).toHaveLength(2);
      expect(new URL(cb.hits[0]!, 'http://x').searchParams.get('code')).toBeTruthy();
      expect(new URL(cb.hits[1]!, 'http://x').searchParams.get('error')).toBe('access_denied');
      const lines = (await readFile(log, 'utf8')).trim().split('\n');
      expect(lines).toEqual([ok.url.href, no.url.href]);
    } finally {
      cb.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('revokes a token at the revocation endpoint and counts it', async () => {
    const { config, tokens } = await loginFlow();
    sb.resetCounters();
    await client.tokenRevocation(config, tokens.refresh_token!);
    expect(sb.counters.revocations).toBe(1);
    const after = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e: unknown) => e);
    expect((after as client.ResponseBodyError).error).toBe('invalid_grant');
  });

  it('revokeAllGrants: refresh gets invalid_grant and old access tokens get 401', async () => {
    const { config, tokens } = await loginFlow();
    expect((await api('/api/v1/apps', tokens.access_token)).status).toBe(200);
    sb.resetCounters();
    await sb.revokeAllGrants();
    const refresh = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e: unknown) => e);
    expect((refresh as client.ResponseBodyError).error).toBe('invalid_grant');
    expect(sb.counters.invalidGrant).toBe(1);
    const res = await api('/api/v1/apps', tokens.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // A fresh login works again afterwards.
    const fresh = await loginFlow();
    expect((await api('/api/v1/apps', fresh.tokens.access_token)).status).toBe(200);
  });
});
