import * as oauth from 'openid-client';
import { AuthError, DrioMcpError, NetworkError } from '../errors.js';

/** The sign-in server answered a token/revocation request with an OAuth error body (`invalid_grant`, ...). */
export class OAuthResponseError extends AuthError {
  /** The OAuth `error` code, e.g. `invalid_grant`. */
  readonly oauthError: string;
  readonly status: number;
  constructor(what: string, oauthError: string, status: number, options?: { cause?: unknown }) {
    super('ERR_AUTH_OAUTH', `${what} failed: the sign-in server answered ${safeCode(oauthError)} (HTTP ${status}).`, options);
    this.oauthError = oauthError;
    this.status = status;
  }
}

/** True when `err` is an OAuth error response with this `error` code. */
export function isOAuthError(err: unknown, code: string): err is OAuthResponseError {
  return err instanceof OAuthResponseError && err.oauthError === code;
}

/**
 * Maps whatever openid-client threw into our error model: OAuthResponseError, NetworkError (ERR_NETWORK/ERR_TIMEOUT),
 * or AuthError ERR_AUTH_OAUTH. Messages name the step and the endpoint, never a token or a code.
 */
export function toAuthError(err: unknown, what: string, endpoint: string): DrioMcpError {
  if (err instanceof DrioMcpError) return err;
  if (err instanceof oauth.ResponseBodyError) return new OAuthResponseError(what, err.error, err.status, { cause: err });
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const code = err.cause[0]?.parameters.error;
    return new OAuthResponseError(what, typeof code === 'string' ? code : 'invalid_client', err.status, { cause: err });
  }
  const target = stripQuery(endpoint);
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const inner = err.cause && typeof err.cause === 'object' ? (err.cause as { code?: unknown }).code : undefined;
    return new NetworkError(target, typeof inner === 'string' ? inner : 'connection failed', { cause: err });
  }
  if (err instanceof oauth.ClientError && (err.code === 'OAUTH_TIMEOUT' || err.code === 'OAUTH_ABORT')) {
    return new NetworkError(target, 'timed out', { cause: err, timeout: true });
  }
  if (err instanceof oauth.ClientError && err.cause instanceof Response && !err.cause.ok) {
    // A status with no OAuth error body (a 5xx, a proxy's page): the status is what a person can act on.
    const status = err.cause.status;
    return new AuthError('ERR_AUTH_OAUTH', `${what} failed: ${target} answered HTTP ${status}.${status >= 500 || status === 429 ? ' Try again in a moment.' : ''}`, { cause: err });
  }
  if (err instanceof oauth.ClientError) {
    // oauth4webapi's own messages are fixed texts (values live in its `cause`), and more telling than the wrapper's.
    const detail = err.cause instanceof Error && err.cause.message ? err.cause.message : err.message;
    return new AuthError('ERR_AUTH_OAUTH', `${what} failed: ${detail} (${err.code ?? 'client error'}).`, { cause: err });
  }
  return new AuthError('ERR_AUTH_OAUTH', `${what} failed unexpectedly.`, { cause: err });
}

/** OAuth error codes are a small ASCII vocabulary; anything else is not echoed. */
export function safeCode(code: string): string {
  return /^[a-z_]{1,64}$/.test(code) ? code : 'an unrecognised error';
}

function stripQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return 'the sign-in server';
  }
}
