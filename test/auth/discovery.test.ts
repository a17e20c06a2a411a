import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'openid-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildClientConfiguration, createDiscovery, discover, requestedScope, type AuthServerMetadata } from '../../src/auth/discovery.js';
import { openCredentialStore } from '../../src/auth/store.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from './helpers.js';

/** A tiny JSON server: path → document (or status). Counts requests per path. */
interface Tiny {
  url: string;
  routes: Map<string, { status?: number; body?: unknown; delayMs?: number }>;
  hits: Map<string, number>;
  close(): Promise<void>;
}
async function tiny(): Promise<Tiny> {
  const routes: Tiny['routes'] = new Map();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    const reply = () => {
      if (!route) return res.writeHead(404).end();
      res.writeHead(route.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(route.body ?? {}));
    };
    if (route?.delayMs) setTimeout(reply, route.delayMs);
    else reply();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routes,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function asMetadata(issuer: string, extra: Partial<AuthServerMetadata> = {}): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    registration_endpoint: `${issuer}/oauth2/register`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email'],
    ...extra,
  };
}

let drio: Tiny;
let as: Tiny;
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  drio = await tiny();
  as = await tiny();
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await drio.close();
  await as.close();
  await cleanup();
});

const prm = () => drio.routes.set('/.well-known/oauth-protected-resource', { body: { resource: drio.url, authorization_servers: [as.url] } });

describe('discover', () => {
  it('uses the protected-resource metadata and the authorization-server metadata on the drio host', async () => {
    prm();
    drio.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url) });
    const found = await discover(drio.url, 2000, silentLogger);
    expect(found.resource).toBe(drio.url);
    expect(found.metadata.issuer).toBe(as.url);
    expect(found.metadata.registration_endpoint).toBe(`${as.url}/oauth2/register`);
    expect(as.hits.size).toBe(0);
  });

  it('falls back to the issuer\u2019s own RFC 8414 metadata when the drio host has none', async () => {
    prm();
    as.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url) });
    expect((await discover(drio.url, 2000, silentLogger)).metadata.token_endpoint).toBe(`${as.url}/oauth2/token`);
  });

  it('falls back to OpenID Connect discovery when the issuer has no RFC 8414 document', async () => {
    prm();
    as.routes.set('/.well-known/openid-configuration', { body: asMetadata(as.url) });
    expect((await discover(drio.url, 2000, silentLogger)).metadata.issuer).toBe(as.url);
  });

  it('works from the drio host\u2019s authorization-server metadata alone when there is no protected-resource metadata', async () => {
    drio.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url) });
    expect((await discover(drio.url, 2000, silentLogger)).metadata.issuer).toBe(as.url);
  });

  it('refuses metadata without S256 PKCE (ERR_AUTH_DISCOVERY)', async () => {
    prm();
    drio.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url, { code_challenge_methods_supported: ['plain'] }) });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY', message: expect.stringMatching(/S256/) });
    const { code_challenge_methods_supported: _omit, ...noMethods } = asMetadata(as.url);
    drio.routes.set('/.well-known/oauth-authorization-server', { body: noMethods });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY' });
  });

  it('refuses metadata without a registration_endpoint', async () => {
    prm();
    const { registration_endpoint: _omit, ...noReg } = asMetadata(as.url);
    drio.routes.set('/.well-known/oauth-authorization-server', { body: noReg });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY', message: expect.stringMatching(/registration/) });
  });

  it('refuses plain http to a non-loopback host, before any request to it', async () => {
    drio.routes.set('/.well-known/oauth-protected-resource', { body: { authorization_servers: ['http://auth.example.com'] } });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY', message: expect.stringMatching(/https/) });
    drio.routes.set('/.well-known/oauth-protected-resource', { body: { authorization_servers: [as.url] } });
    drio.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url, { token_endpoint: 'http://tokens.example.com/token' }) });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY' });
  });

  it('rejects an issuer document that names another issuer', async () => {
    prm();
    as.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata('https://impostor.example') });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY', message: expect.stringMatching(/impostor/) });
  });

  it('says clearly when nothing is published', async () => {
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({ code: 'ERR_AUTH_DISCOVERY', message: expect.stringMatching(/DRIO_API_URL/) });
  });

  it('reports an unreachable authorization server as ERR_NETWORK', async () => {
    const deadIssuer = as.url;
    await as.close();
    prm();
    drio.routes.set('/.well-known/oauth-protected-resource', { body: { authorization_servers: [deadIssuer] } });
    await expect(discover(drio.url, 2000, silentLogger)).rejects.toMatchObject({
      code: 'ERR_NETWORK',
      message: expect.stringMatching(/Could not reach http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-authorization-server \(connection refused\)/),
    });
    as = await tiny(); // for afterEach
  });

  // Regression: a port fetch refuses to use (here 1, "tcpmux") was reported as the bare "fetch failed".
  it('says why fetch refused a URL instead of "fetch failed"', async () => {
    const error = await discover('http://127.0.0.1:1', 2000, silentLogger).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_NETWORK', message: 'Could not reach http://127.0.0.1:1/.well-known/oauth-protected-resource (bad port).' });
  });

  it('times out a stalled metadata request (ERR_TIMEOUT)', async () => {
    drio.routes.set('/.well-known/oauth-protected-resource', { body: {}, delayMs: 2000 });
    await expect(discover(drio.url, 200, silentLogger)).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });
});

describe('createDiscovery', () => {
  it('does nothing until asked, then caches in memory and on disk for the TTL', async () => {
    prm();
    drio.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url) });
    const store = openCredentialStore(dir, drio.url, { logger: silentLogger });
    let now = 1_000_000;
    const make = () => createDiscovery({ apiUrl: drio.url, store, logger: silentLogger, timeoutMs: 2000, ttlMs: 60_000, now: () => now });
    const d1 = make();
    expect(drio.hits.size).toBe(0);
    await d1.get();
    await d1.get();
    expect(drio.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
    // A new process (new discovery, same store) uses the disk cache.
    await make().get();
    expect(drio.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
    // After the TTL it fetches again.
    now += 61_000;
    await make().get();
    expect(drio.hits.get('/.well-known/oauth-authorization-server')).toBe(2);
  });

  it('coalesces concurrent first calls into one fetch', async () => {
    prm();
    drio.routes.set('/.well-known/oauth-authorization-server', { body: asMetadata(as.url) });
    const d = createDiscovery({ apiUrl: drio.url, store: openCredentialStore(dir, drio.url, { logger: silentLogger }), logger: silentLogger, timeoutMs: 2000 });
    await Promise.all(Array.from({ length: 10 }, () => d.get()));
    expect(drio.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
  });
});

describe('client configuration', () => {
  it('allows plain http for loopback metadata (a real request goes through) and sets a timeout in seconds', async () => {
    as.routes.set('/oauth2/revoke', { body: {} });
    const local = buildClientConfiguration(asMetadata(as.url) as AuthServerMetadata, 'cid', 7_500);
    expect(local.timeout).toBe(8);
    expect(local.clientMetadata().client_id).toBe('cid');
    await oauth.tokenRevocation(local, 'some-token');
    expect(as.hits.get('/oauth2/revoke')).toBe(1);
    expect(buildClientConfiguration(asMetadata('https://auth.example.com') as AuthServerMetadata, 'cid', 30_000).timeout).toBe(30);
  });

  it('asks for offline_access only where advertised', () => {
    expect(requestedScope(asMetadata('https://a.example') as AuthServerMetadata)).toBe('openid profile email');
    expect(requestedScope(asMetadata('https://a.example', { scopes_supported: ['openid', 'offline_access'] }) as AuthServerMetadata)).toBe(
      'openid profile email offline_access',
    );
  });
});
