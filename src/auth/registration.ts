import { z } from 'zod';
import { AuthError } from '../errors.js';
import type { AuthServerMetadata } from './discovery.js';
import { toNetworkError } from './discovery.js';
import type { Logger } from '../log.js';
import type { ClientRegistration, CredentialStore } from './store.js';

/** The client name users see on the sign-in and consent pages. */
export const CLIENT_NAME = 'drio-mcp';

/** The loopback redirect URI for a port: always 127.0.0.1 (RFC 8252 §7.3), never `localhost`. */
export function loopbackRedirectUri(port: number): string {
  return `http://127.0.0.1:${port}/callback`;
}

/** The port of a stored loopback redirect URI, if it is one of ours. */
export function portOfRedirectUri(redirectUri: string): number | undefined {
  try {
    const url = new URL(redirectUri);
    if (url.protocol !== 'http:' || url.hostname !== '127.0.0.1' || url.pathname !== '/callback') return undefined;
    const port = Number(url.port);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** True when a stored registration can be used as is for this issuer and redirect URI. */
function registrationMatches(registration: ClientRegistration | undefined, issuer: string, redirectUri: string): boolean {
  return registration !== undefined && registration.issuer === issuer && registration.redirect_uri === redirectUri;
}

const RegistrationResponseSchema = z.looseObject({
  client_id: z.string().min(1),
  client_secret: z.string().optional(),
});

const OAuthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/**
 * Registers drio-mcp as a public native client (RFC 7591) for `redirectUri`.
 * A plain fetch rather than openid-client's dynamicClientRegistration, which would re-run discovery we already cached.
 */
export async function registerClient(
  metadata: AuthServerMetadata,
  redirectUri: string,
  options: { timeoutMs: number; scope: string; now?: () => number },
): Promise<ClientRegistration> {
  const body = {
    client_name: CLIENT_NAME,
    application_type: 'native',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: options.scope,
  };
  const endpoint = metadata.registration_endpoint;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (cause) {
    throw toNetworkError(endpoint, cause);
  }
  let json: unknown;
  try {
    json = await response.json();
  } catch (cause) {
    throw new AuthError('ERR_AUTH_REGISTRATION', `The sign-in server's registration endpoint answered HTTP ${response.status} without JSON.`, { cause });
  }
  if (!response.ok) {
    const err = OAuthErrorSchema.safeParse(json);
    const detail = err.success ? `${err.data.error}${err.data.error_description ? `: ${err.data.error_description}` : ''}` : `HTTP ${response.status}`;
    throw new AuthError('ERR_AUTH_REGISTRATION', `The sign-in server refused to register drio-mcp (${detail}).`);
  }
  const parsed = RegistrationResponseSchema.safeParse(json);
  if (!parsed.success) {
    throw new AuthError('ERR_AUTH_REGISTRATION', 'The sign-in server answered the registration without a client_id.');
  }
  return {
    issuer: metadata.issuer,
    client_id: parsed.data.client_id,
    redirect_uri: redirectUri,
    registered_at: new Date((options.now ?? Date.now)()).toISOString(),
  };
}

/**
 * The registration to use for `redirectUri`: the stored one when it was made for this issuer and redirect URI,
 * else a new one, persisted (under the store lock) before it is used.
 */
export async function ensureRegistration(
  store: CredentialStore,
  metadata: AuthServerMetadata,
  redirectUri: string,
  options: { stored: ClientRegistration | undefined; timeoutMs: number; scope: string; logger: Logger; now?: () => number },
): Promise<ClientRegistration> {
  const stored = options.stored;
  if (stored !== undefined && registrationMatches(stored, metadata.issuer, redirectUri)) return stored;
  options.logger.debug(
    stored === undefined
      ? 'Registering drio-mcp with the sign-in server.'
      : stored.issuer !== metadata.issuer
        ? 'Re-registering drio-mcp: the sign-in server changed.'
        : 'Re-registering drio-mcp: the stored registration is for another callback port.',
  );
  const fresh = await registerClient(metadata, redirectUri, options);
  await store.withLock(async () => {
    const current = await store.read();
    await store.write({ ...current, client: fresh });
  });
  return fresh;
}

/** Drops a registration the server no longer knows (invalid_client), so the next login registers afresh. */
export async function forgetRegistration(store: CredentialStore, clientId: string): Promise<void> {
  await store.withLock(async () => {
    const current = await store.read();
    if (current.client?.client_id !== clientId) return;
    const { client: _dropped, ...rest } = current;
    await store.write(rest);
  });
}
