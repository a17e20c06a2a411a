/**
 * The auth layer's public entry. Loaded lazily (`await import('./auth/index.js')`) on the first protected call, so
 * openid-client and friends stay out of start-up.
 */
export { createSession } from './session.js';
export type { DrioAuthSession, SessionDeps } from './session.js';
export { runAuthCommand, AUTH_COMMAND_HELP } from './cli.js';
export type { AuthCommand, AuthCommandIo, AuthCommandDeps } from './cli.js';
export { OAuthResponseError } from './oauth-error.js';
export type { AuthSession, AuthStatus, GetAccessTokenOptions, LoginPresenter, TokenSource } from './types.js';
