/**
 * The drio sandbox: a real oidc-provider authorization server plus a drio v1 API emulator, both on 127.0.0.1.
 * Interface: CONTRACT.md.
 */
import { startApiServer } from './api-server.js';
import { startAuthServer, type AuthServerState } from './auth-server.js';
import { createCounters, resetCounters } from './counters.js';
import { FailureBook } from './failures.js';
import { completeLogin } from './login-driver.mjs';
import { LOOPBACK } from './http-util.js';
import { TEST_USER, type Sandbox, type SandboxOptions } from './types.js';

export type { Counters, Failure, LoginResult, Sandbox, SandboxOptions } from './types.js';

/** Fields of the AS metadata that the drio host republishes at /.well-known/oauth-authorization-server. */
const AS_METADATA_FIELDS = [
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'registration_endpoint',
  'revocation_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'scopes_supported',
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'code_challenge_methods_supported',
  'token_endpoint_auth_methods_supported',
  'revocation_endpoint_auth_methods_supported',
  'authorization_response_iss_parameter_supported',
  'claims_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
] as const;

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  if (opts.host !== undefined && opts.host !== LOOPBACK) throw new Error('the drio sandbox only binds 127.0.0.1');
  const counters = createCounters();
  const failures = new FailureBook();
  const state: AuthServerState = {
    accessTokenTtl: opts.accessTokenTtl ?? 3600,
    secrets: new Set(),
    revokedAccessTokens: new Set(),
  };

  let apiUrl = '';
  const auth = await startAuthServer({ port: opts.authPort ?? 0, apiUrl: () => apiUrl, counters, failures, state });
  let asMetadata: Record<string, unknown> = {};
  let api;
  try {
    api = await startApiServer({
      port: opts.apiPort ?? 0,
      as: { issuer: auth.issuer, metadata: () => asMetadata },
      counters,
      failures,
      revoked: state.revokedAccessTokens,
    });
    apiUrl = api.apiUrl;
    const res = await fetch(`${auth.issuer}/.well-known/oauth-authorization-server`);
    if (!res.ok) throw new Error(`sandbox AS metadata: HTTP ${res.status}`);
    const full = (await res.json()) as Record<string, unknown>;
    asMetadata = Object.fromEntries(AS_METADATA_FIELDS.filter((f) => f in full).map((f) => [f, full[f]]));
    asMetadata.code_challenge_methods_supported = ['S256'];
  } catch (err) {
    await api?.close();
    await auth.close();
    throw err;
  }
  resetCounters(counters);
  const apiServer = api;

  let closed: Promise<void> | undefined;
  return {
    apiUrl,
    issuer: auth.issuer,
    user: { id: TEST_USER.id, email: TEST_USER.email, name: TEST_USER.name },
    counters,
    resetCounters: () => resetCounters(counters),
    setAccessTokenTtl(seconds: number) {
      if (!Number.isInteger(seconds) || seconds < 1) throw new Error('access token TTL must be a positive integer (seconds)');
      state.accessTokenTtl = seconds;
    },
    fail: (routeKey, failure) => failures.add(routeKey, failure),
    clearFailures: () => failures.clear(),
    async revokeAllGrants() {
      auth.store.revokeAll();
      // JWT access tokens are self-contained: the API keeps a deny-list of every one issued so far.
      for (const s of state.secrets) state.revokedAccessTokens.add(s);
    },
    issuedSecrets: () => [...state.secrets],
    completeLogin: (authorizationUrl, loginOpts) => completeLogin(authorizationUrl, loginOpts),
    close() {
      closed ??= Promise.all([apiServer.close(), auth.close()]).then(() => undefined);
      return closed;
    },
  };
}
