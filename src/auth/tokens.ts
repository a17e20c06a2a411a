import type * as oauth from 'openid-client';
import type { StoredTokens } from './store.js';

/** Default early-refresh margin: refresh this long before `expires_at`. */
export const DEFAULT_REFRESH_MARGIN_SECONDS = 60;

/** Converts a token endpoint response to what we store; keeps the old refresh token when none was rotated in. */
export function toStoredTokens(
  response: oauth.TokenEndpointResponse & { claims?: () => oauth.IDToken | undefined },
  context: { issuer: string; clientId: string; nowSeconds: number; previous?: StoredTokens },
): StoredTokens {
  const claims = typeof response.claims === 'function' ? response.claims() : undefined;
  const account = claims
    ? {
        sub: claims.sub,
        email: typeof claims.email === 'string' ? claims.email : undefined,
        name: typeof claims.name === 'string' ? claims.name : undefined,
      }
    : context.previous?.account;
  const expiresIn = typeof response.expires_in === 'number' && Number.isFinite(response.expires_in) ? response.expires_in : undefined;
  return {
    access_token: response.access_token,
    token_type: response.token_type ?? 'bearer',
    expires_at: expiresIn === undefined ? undefined : context.nowSeconds + Math.floor(expiresIn),
    obtained_at: context.nowSeconds,
    refresh_token: response.refresh_token ?? context.previous?.refresh_token,
    scope: response.scope ?? context.previous?.scope,
    issuer: context.issuer,
    client_id: context.clientId,
    account,
  };
}

/**
 * True while the access token can be used without refreshing: more than `marginSeconds` before `expires_at`.
 * The margin never exceeds half the token's lifetime, so short-lived tokens are not refreshed on every call.
 */
export function isFresh(tokens: StoredTokens, nowSeconds: number, marginSeconds: number): boolean {
  if (tokens.expires_at === undefined) return true; // No expiry given: valid until drio answers 401.
  const lifetime = tokens.expires_at - tokens.obtained_at;
  const margin = Math.min(marginSeconds, Math.max(0, Math.floor(lifetime / 2)));
  return nowSeconds < tokens.expires_at - margin;
}
