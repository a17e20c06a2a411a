import * as oauth from 'openid-client';
import { isLoopbackHost, type Config } from '../config.js';
import { AuthError } from '../errors.js';
import type { Logger } from '../log.js';
import { buildClientConfiguration, requestedScope, type Discovery } from './discovery.js';
import { CallbackPortBusyError, startCallbackListener, type CallbackListener } from './loopback.js';
import { isOAuthError, toAuthError } from './oauth-error.js';
import { ensureRegistration, forgetRegistration, portOfRedirectUri } from './registration.js';
import type { ClientRegistration, CredentialStore, StoredTokens } from './store.js';
import { toStoredTokens } from './tokens.js';
import type { LoginPresenter } from './types.js';

/** Everything a login needs; the session supplies it. */
export interface LoginContext {
  config: Config;
  discovery: Discovery;
  store: CredentialStore;
  logger: Logger;
  /** Writes one line to stderr regardless of log level (the sign-in URL must always reach the user). */
  stderr: (line: string) => void;
  presentLoginUrl?: LoginPresenter;
  /** Replaces `open` (tests complete the sign-in over HTTP here). */
  openUrl?: (url: string) => Promise<void>;
  now?: () => number;
}

/** A started login: the URL to show, and the tokens it will yield (already stored when `done` resolves). */
export interface LoginFlow {
  readonly url: string;
  readonly startedAt: Date;
  readonly done: Promise<StoredTokens>;
  /** Aborts the flow and closes the listener. */
  cancel(): Promise<void>;
}

/**
 * Starts an authorization-code + PKCE (S256) login: discovery, a loopback listener, registration when the stored one
 * does not fit, then shows the URL (stderr always, plus the presenter / browser). Resolves once the URL is out.
 */
export async function startLogin(ctx: LoginContext, options: { signal?: AbortSignal } = {}): Promise<LoginFlow> {
  const { config, store, logger } = ctx;
  const now = ctx.now ?? Date.now;
  const discovered = await ctx.discovery.get();
  const metadata = discovered.metadata;
  const scope = requestedScope(metadata);
  const stored = await store.read();
  let registration: ClientRegistration | undefined = stored.client?.issuer === metadata.issuer ? stored.client : undefined;

  const state = oauth.randomState();
  const codeVerifier = oauth.randomPKCECodeVerifier();
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
  // Bound late: the client id is known only after the listener's port fixed the redirect URI.
  let clientConfig: oauth.Configuration | undefined;

  const exchange = async (callbackUrl: URL): Promise<StoredTokens> => {
    if (clientConfig === undefined || registration === undefined) throw new AuthError('ERR_AUTH_OAUTH', 'Sign-in callback arrived before the login was ready.');
    const clientId = registration.client_id;
    let response: Awaited<ReturnType<typeof oauth.authorizationCodeGrant>>;
    try {
      // Checks state, iss (when present or required) and sends the PKCE verifier with the registered redirect_uri.
      response = await oauth.authorizationCodeGrant(clientConfig, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state });
    } catch (err) {
      const mapped = toAuthError(err, 'Exchanging the sign-in code', metadata.token_endpoint);
      if (isOAuthError(mapped, 'invalid_client')) await forgetRegistration(store, clientId);
      throw mapped;
    }
    const tokens = toStoredTokens(response, { issuer: metadata.issuer, clientId, nowSeconds: Math.floor(now() / 1000) });
    await store.withLock(async () => {
      const current = await store.read();
      await store.write({ ...current, client: current.client ?? registration, tokens });
    });
    logger.info('Signed in to drio.', tokens.account?.email ? { account: tokens.account.email } : undefined);
    return tokens;
  };

  const listener = await listenForCallback(config, registration, {
    expectedState: state,
    timeoutMs: config.loginTimeoutMs,
    onCallback: exchange,
    signal: options.signal,
  }, logger);

  try {
    registration = await ensureRegistration(store, metadata, listener.redirectUri, {
      stored: registration,
      timeoutMs: config.requestTimeoutMs,
      scope,
      logger,
      now,
    });
    clientConfig = buildClientConfiguration(metadata, registration.client_id, config.requestTimeoutMs);
  } catch (err) {
    await listener.close();
    throw err;
  }

  const url = oauth
    .buildAuthorizationUrl(clientConfig, {
      redirect_uri: listener.redirectUri,
      scope,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state,
    })
    .toString();

  showUrl(ctx, url);
  return {
    url,
    startedAt: new Date(now()),
    done: listener.result,
    cancel: () => listener.close(),
  };
}

/** Listens on the pinned port, else the registered one, else any free one: a busy port never ends the login. */
async function listenForCallback(
  config: Config,
  registration: ClientRegistration | undefined,
  options: Omit<Parameters<typeof startCallbackListener<StoredTokens>>[0], 'port'>,
  logger: Logger,
): Promise<CallbackListener<StoredTokens>> {
  if (config.callbackPort !== undefined) {
    try {
      return await startCallbackListener({ ...options, port: config.callbackPort });
    } catch (err) {
      if (err instanceof CallbackPortBusyError) {
        throw new AuthError(
          'ERR_AUTH_CALLBACK_PORT',
          `DRIO_MCP_CALLBACK_PORT=${config.callbackPort} is already in use on 127.0.0.1. Free it, choose another port, or unset DRIO_MCP_CALLBACK_PORT to let drio-mcp pick one.`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  const registeredPort = registration ? portOfRedirectUri(registration.redirect_uri) : undefined;
  if (registeredPort !== undefined) {
    try {
      return await startCallbackListener({ ...options, port: registeredPort });
    } catch (err) {
      if (!(err instanceof CallbackPortBusyError)) throw err;
      logger.info(`Callback port ${registeredPort} is busy; using another port (drio-mcp will re-register).`);
    }
  }
  return startCallbackListener({ ...options, port: 0 });
}

function showUrl(ctx: LoginContext, url: string): void {
  // Always on stderr, whatever the log level: over SSH or in a container this is the only way in.
  ctx.stderr(`drio-mcp: sign in to drio by opening this URL: ${url}\n`);
  let opened = false;
  const openBrowser = async (): Promise<void> => {
    if (opened) return; // At most one tab per flow, however often the presenter asks.
    opened = true;
    if (!ctx.config.openBrowser) return;
    if (!isOpenable(url)) {
      ctx.logger.warn('Not opening a browser for a sign-in URL that is neither https nor loopback http.');
      return;
    }
    try {
      if (ctx.openUrl) {
        await ctx.openUrl(url);
      } else {
        const { default: open } = await import('open');
        const child = await open(url);
        child.once('error', (err) => ctx.logger.warn(`Could not open a browser (${err.message}); open the URL above yourself.`));
      }
    } catch (err) {
      ctx.logger.warn(`Could not open a browser (${err instanceof Error ? err.message : String(err)}); open the URL above yourself.`);
    }
  };
  const present = ctx.presentLoginUrl ?? ((_url: string, openIt: () => Promise<void>) => openIt());
  // In the background: the URL must be available to waiting callers before the user acts on it.
  void Promise.resolve()
    .then(() => present(url, openBrowser))
    .catch((err: unknown) => ctx.logger.warn(`Showing the sign-in URL failed (${err instanceof Error ? err.message : String(err)}).`));
}

/** Only URLs built from validated metadata reach here; this re-checks the scheme before handing it to the OS. */
function isOpenable(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}
