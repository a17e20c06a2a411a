import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { Provider } from 'oidc-provider';
import { bump } from './counters.js';
import { applyFailure, type FailureBook } from './failures.js';
import { listenLoopback, type Listening } from './http-util.js';
import { loadOidcProvider } from './load-provider.js';
import { handleInteraction } from './login-page.js';
import { createAdapterStore, type AdapterStore } from './memory-adapter.js';
import { SCOPES, TEST_USER, type Counters } from './types.js';

export const AS_ROUTES = {
  authorization: '/oauth2/authorize',
  token: '/oauth2/token',
  registration: '/oauth2/register',
  revocation: '/oauth2/revoke',
  jwks: '/jwks',
  userinfo: '/oauth2/userinfo',
  end_session: '/oauth2/logout',
} as const;

/** Extra failure/counter keys for AS routes, so both `POST /oauth2/token` and oidc-provider's default `POST /token` work. */
const ALIASES: Record<string, string[]> = {
  [AS_ROUTES.token]: ['/token'],
  [AS_ROUTES.registration]: ['/reg', '/register'],
  [AS_ROUTES.authorization]: ['/auth', '/authorize'],
  [AS_ROUTES.revocation]: ['/token/revocation', '/revoke'],
};

export interface AuthServerState {
  accessTokenTtl: number;
  secrets: Set<string>;
  /** Access tokens issued before revokeAllGrants(): the API rejects them. */
  revokedAccessTokens: Set<string>;
}

export interface AuthServer {
  issuer: string;
  listening: Listening;
  provider: Provider;
  store: AdapterStore;
  close(): Promise<void>;
}

function routeKey(method: string, path: string): string {
  let pattern = path;
  if (/^\/interaction\/[^/]+\/(login|abort)$/.test(path)) pattern = path.replace(/^\/interaction\/[^/]+/, '/interaction/:uid');
  else if (/^\/interaction\/[^/]+$/.test(path)) pattern = '/interaction/:uid';
  else if (path.startsWith(`${AS_ROUTES.authorization}/`)) pattern = `${AS_ROUTES.authorization}/:uid`;
  // The drio host serves the same well-known path; keep the two apart.
  if (path === '/.well-known/oauth-authorization-server') return `AS ${method} ${pattern}`;
  return `${method} ${pattern}`;
}

/** Hook res.end to see the JSON the provider sends (token endpoint: secrets, invalid_grant). */
function tapJson(res: ServerResponse, onBody: (status: number, json: Record<string, unknown>) => void): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  (res as { end: unknown }).end = (...args: unknown[]) => {
    const chunk = args[0];
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      try {
        const json: unknown = JSON.parse(chunk.toString());
        if (json && typeof json === 'object') onBody(res.statusCode, json as Record<string, unknown>);
      } catch {
        /* not JSON (malformed failure) */
      }
    }
    return end(...args);
  };
}

export async function startAuthServer(opts: {
  port: number;
  apiUrl: () => string;
  counters: Counters;
  failures: FailureBook;
  state: AuthServerState;
}): Promise<AuthServer> {
  const { counters, failures, state } = opts;
  const { Provider, errors } = await loadOidcProvider();
  const store = createAdapterStore();
  store.onUpsert = (model, id) => {
    if (model === 'AuthorizationCode' || model === 'RefreshToken' || model === 'AccessToken') state.secrets.add(id);
  };

  let provider: Provider | undefined;
  let providerCallback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const listening = await listenLoopback(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      const path = url.pathname;
      const key = routeKey(method, path);
      const aliases = (ALIASES[path] ?? []).map((a) => `${method} ${a}`);
      const keys = [key, ...aliases];
      // Count under the real path and under oidc-provider's default route name (e.g. "POST /token").
      bump(counters.requests, key);
      if (aliases[0]) bump(counters.requests, aliases[0]);

      if (path === AS_ROUTES.token) {
        tapJson(res, (status, json) => {
          for (const field of ['access_token', 'refresh_token'] as const) {
            const v = json[field];
            if (typeof v === 'string') state.secrets.add(v);
          }
          if (status >= 400 && json.error === 'invalid_grant') counters.invalidGrant += 1;
        });
      }
      if (path === AS_ROUTES.revocation && method === 'POST') {
        res.on('finish', () => {
          if (res.statusCode === 200) counters.revocations += 1;
        });
      }

      const failure = failures.take(keys);
      if (failure) {
        const handled = await applyFailure(failure, req, res, (status, code, message) => ({
          error: code ?? (status >= 500 ? 'server_error' : 'invalid_request'),
          error_description: message ?? `sandbox forced failure (${status})`,
        }));
        if (handled) return;
      }

      if (!provider || !providerCallback) {
        res.writeHead(503).end();
        return;
      }
      if (await handleInteraction(provider, opts.apiUrl(), req, res, path)) return;
      if (path === AS_ROUTES.authorization && method === 'GET' && !url.searchParams.get('scope')) {
        // oidc-provider denies a request that asks for no scope at all; AuthKit grants its defaults.
        url.searchParams.set('scope', SCOPES.join(' '));
        req.url = `${url.pathname}${url.search}`;
      }
      providerCallback(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  }, opts.port);

  const issuer = listening.url;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: `sandbox-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };

  const resourceInfo = (indicator: string) => {
    const apiUrl = opts.apiUrl();
    if (indicator.replace(/\/+$/, '') !== apiUrl) throw new errors.InvalidTarget();
    return {
      scope: SCOPES.join(' '),
      audience: apiUrl,
      accessTokenFormat: 'jwt',
      accessTokenTTL: state.accessTokenTtl,
      jwt: { sign: { alg: 'RS256' } },
    };
  };

  provider = new Provider(issuer, {
    adapter: store.AdapterClass,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    routes: AS_ROUTES,
    scopes: [...SCOPES],
    responseTypes: ['code'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    clientDefaults: {
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'RS256',
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true, allowedPolicy: () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf?.[0] ?? opts.apiUrl(),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => resourceInfo(indicator),
      },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: () => state.accessTokenTtl,
      AuthorizationCode: 120,
      IdToken: 3600,
      RefreshToken: 30 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      Session: 24 * 3600,
      Interaction: 3600,
    },
    findAccount: async (_ctx: unknown, sub: string) =>
      sub === TEST_USER.id
        ? {
            accountId: sub,
            claims: async () => ({ sub, email: TEST_USER.email, email_verified: true, name: TEST_USER.name }),
          }
        : undefined,
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = 'html';
      const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!doctype html><html><head><meta charset="utf-8"><title>oops! something went wrong</title></head><body><h1>oops! something went wrong</h1>${Object.entries(
        out,
      )
        .map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(String(v))}</pre>`)
        .join('')}</body></html>`;
    },
  });

  provider.on('grant.success', (ctx: { oidc: { params: { grant_type?: string } } }) => {
    bump(counters.grants, ctx.oidc.params.grant_type ?? 'unknown');
  });
  provider.on('registration_create.success', () => {
    counters.registrations += 1;
  });
  provider.on('authorization.success', () => {
    counters.authorizations += 1;
  });
  providerCallback = provider.callback();

  return {
    issuer,
    listening,
    provider,
    store,
    close: () => listening.close(),
  };
}
