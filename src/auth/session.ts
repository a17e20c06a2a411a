import * as oauth from 'openid-client';
import type { Config } from '../config.js';
import { AuthError, LoginPendingError } from '../errors.js';
import type { Logger } from '../log.js';
import { buildClientConfiguration, createDiscovery, type Discovery } from './discovery.js';
import { isLive, readLoginMarker } from './login-marker.js';
import { isOAuthError, OAuthResponseError, toAuthError } from './oauth-error.js';
import { startSharedLogin, type SharedLogin } from './shared-login.js';
import { openCredentialStore, type CredentialFile, type CredentialStore, type StoredTokens } from './store.js';
import { DEFAULT_REFRESH_MARGIN_SECONDS, isFresh, toStoredTokens } from './tokens.js';
import type { AuthSession, AuthStatus, GetAccessTokenOptions, LoginPresenter } from './types.js';

/** What a session needs from its host. Only `logger` is required. */
export interface SessionDeps {
  logger: Logger;
  /** How the sign-in URL reaches the user besides stderr (e.g. MCP URL elicitation). Default: open the browser. */
  presentLoginUrl?: LoginPresenter;
  /** Replaces `open` for the browser (tests). */
  openUrl?: (url: string) => Promise<void>;
  /** Where the sign-in URL line goes; default process.stderr. */
  stderr?: (line: string) => void;
  /** Refresh this long before expiry; default 60 s (never more than half the token's lifetime). */
  refreshMarginSeconds?: number;
  /** Discovery cache lifetime; default one hour. */
  discoveryTtlMs?: number;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

/** The session the CLI uses: AuthSession plus a token getter that never starts a login. */
export interface DrioAuthSession extends AuthSession {
  /** A valid access token (refreshed if needed) when signed in; undefined when only a new login would help. */
  getAccessTokenIfSignedIn(): Promise<string | undefined>;
  /** The credential store backing this session. */
  readonly store: CredentialStore;
}

interface LoginEntry {
  readonly started: Promise<SharedLogin>;
  readonly abort: AbortController;
  flow?: SharedLogin;
}

/**
 * Creates the auth session for `config.apiUrl`. Does no I/O until the first call: discovery, the store and any
 * login happen on demand. Warm calls are served from memory (no disk, no network). A login is one per machine: when
 * another drio-mcp process sharing the store already runs one, this one waits for its tokens (shared-login.ts).
 */
export function createSession(config: Config, deps: SessionDeps): DrioAuthSession {
  const { logger } = deps;
  const now = deps.now ?? Date.now;
  const nowSeconds = () => Math.floor(now() / 1000);
  const margin = deps.refreshMarginSeconds ?? DEFAULT_REFRESH_MARGIN_SECONDS;
  const stderr = deps.stderr ?? ((line: string) => void process.stderr.write(line));
  const store = openCredentialStore(config.configDir, config.apiUrl, { logger });
  const discovery: Discovery = createDiscovery({
    apiUrl: config.apiUrl,
    store,
    logger,
    timeoutMs: config.requestTimeoutMs,
    ttlMs: deps.discoveryTtlMs,
    now,
  });

  let tokens: StoredTokens | undefined;
  let loaded: Promise<void> | undefined;
  let refreshing: Promise<StoredTokens | undefined> | undefined;
  let login: LoginEntry | undefined;
  let closed = false;
  /** The access token this process last found in the store: when a login starts, the one it found unusable. */
  let lastStoredAccessToken: string | undefined;

  const ensureLoaded = (): Promise<void> => {
    loaded ??= store.read().then((data) => {
      tokens ??= data.tokens;
      lastStoredAccessToken = data.tokens?.access_token;
    });
    return loaded;
  };

  /**
   * Refresh, serialised in-process (single flight) and across processes (file lock). `mustRotate`: the token was
   * rejected by drio, so returning it again (e.g. because the sign-in server is unreachable) is not an option.
   */
  const refresh = (staleAccessToken: string | undefined, mustRotate: boolean): Promise<StoredTokens | undefined> => {
    refreshing ??= store.withLock(() => refreshLocked(staleAccessToken, mustRotate)).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };

  const refreshLocked = async (staleAccessToken: string | undefined, mustRotate: boolean): Promise<StoredTokens | undefined> => {
    const current = await store.read();
    const stored = current.tokens;
    lastStoredAccessToken = stored?.access_token;
    if (stored === undefined) {
      tokens = undefined;
      return undefined;
    }
    // Another process (or a login) rotated the tokens while we waited: use theirs rather than refreshing again.
    if (stored.access_token !== staleAccessToken && isFresh(stored, nowSeconds(), margin)) {
      tokens = stored;
      return stored;
    }
    if (stored.refresh_token === undefined) {
      tokens = stored;
      return undefined;
    }
    const { metadata } = await discovery.get();
    if (metadata.issuer !== stored.issuer) {
      logger.info(`drio now signs in through ${metadata.issuer} (was ${stored.issuer}); a new sign-in is needed.`);
      tokens = undefined;
      return undefined;
    }
    const refreshToken = stored.refresh_token;
    let response: Awaited<ReturnType<typeof oauth.refreshTokenGrant>>;
    try {
      response = await oauth.refreshTokenGrant(buildClientConfiguration(metadata, stored.client_id, config.requestTimeoutMs), refreshToken);
    } catch (err) {
      const mapped = toAuthError(err, 'Refreshing the drio sign-in', metadata.token_endpoint);
      if (isOAuthError(mapped, 'invalid_grant') || isOAuthError(mapped, 'invalid_client')) {
        await dropTokensIfStill(refreshToken, isOAuthError(mapped, 'invalid_client') ? stored.client_id : undefined);
        logger.info(`The drio sign-in is no longer valid (${mapped.oauthError}); a new sign-in is needed.`);
        tokens = undefined;
        return undefined;
      }
      // Metadata may be stale (moved endpoints): fetch it afresh next time.
      if (!(mapped instanceof OAuthResponseError)) await discovery.invalidate();
      // The sign-in server is unreachable but the token has not actually expired yet: keep using it.
      if (!mustRotate && (stored.expires_at === undefined || nowSeconds() < stored.expires_at)) {
        logger.warn(`Could not refresh the drio sign-in early (${mapped.message}); using the current token until it expires.`);
        tokens = stored;
        return stored;
      }
      throw mapped;
    }
    const next = toStoredTokens(response, { issuer: stored.issuer, clientId: stored.client_id, nowSeconds: nowSeconds(), previous: stored });
    await store.write({ ...current, tokens: next });
    logger.debug('Refreshed the drio access token.');
    tokens = next;
    return next;
  };

  /** On invalid_grant: forget tokens only if the stored refresh token is still the one that failed (we hold the lock). */
  const dropTokensIfStill = async (failedRefreshToken: string, invalidClientId: string | undefined): Promise<void> => {
    const latest = await store.read();
    if (latest.tokens?.refresh_token !== failedRefreshToken) return;
    const next: CredentialFile = { version: latest.version, api_url: latest.api_url };
    if (latest.client && latest.client.client_id !== invalidClientId) next.client = latest.client;
    await store.write(next);
  };

  /** A token without any login: memory when fresh, else the store or a refresh. */
  const usableToken = async (rejectedToken: string | undefined): Promise<string | undefined> => {
    await ensureLoaded();
    const current = tokens;
    if (current && current.access_token !== rejectedToken && isFresh(current, nowSeconds(), margin)) return current.access_token;
    const rejected = rejectedToken !== undefined;
    let refreshed = await refresh(rejectedToken ?? current?.access_token, rejected);
    // We joined a refresh that was allowed to keep the old token: the rejected one needs a real rotation.
    if (rejected && refreshed?.access_token === rejectedToken) refreshed = await refresh(rejectedToken, true);
    if (refreshed && refreshed.access_token !== rejectedToken) return refreshed.access_token;
    return undefined;
  };

  /**
   * The login this process waits for: its own browser flow, or one another drio-mcp process already runs for the same
   * store. `force` (an explicit `login`): tokens signed in before now do not count, even ones this process never saw.
   */
  const ensureLogin = (force = false): LoginEntry => {
    if (closed) throw new AuthError('ERR_AUTH_LOGIN_ABORTED', 'The drio auth session is closed.');
    if (login) return login;
    const abort = new AbortController();
    const unusable = force ? tokens?.access_token : lastStoredAccessToken;
    const since = force ? nowSeconds() : undefined;
    // A follower is done when the store holds tokens other than the ones that sent it to log in.
    const accept = (t: StoredTokens | undefined): StoredTokens | undefined =>
      t !== undefined &&
      t.access_token !== unusable &&
      (since === undefined || t.obtained_at >= since) &&
      (t.expires_at === undefined || t.expires_at > nowSeconds())
        ? t
        : undefined;
    const started = startSharedLogin(
      { config, discovery, store, logger, stderr, presentLoginUrl: deps.presentLoginUrl, openUrl: deps.openUrl, now },
      { signal: abort.signal, accept },
    );
    const entry: LoginEntry = { started, abort };
    login = entry;
    const finished = () => {
      if (login === entry) login = undefined;
    };
    started.then(
      (flow) => {
        entry.flow = flow;
        flow.done.then(
          (fresh) => {
            tokens = fresh;
            lastStoredAccessToken = fresh.access_token;
            finished();
          },
          (err: unknown) => {
            logger.warn(`Sign-in to drio did not complete: ${err instanceof Error ? err.message : String(err)}`);
            finished();
          },
        );
      },
      finished,
    );
    return entry;
  };

  const waitForLogin = async (entry: LoginEntry, options: { waitForLoginMs?: number; signal?: AbortSignal }): Promise<StoredTokens> => {
    const flow = await withAbort(entry.started, options.signal);
    if (options.waitForLoginMs === undefined) return withAbort(flow.done, options.signal);
    let timer: NodeJS.Timeout | undefined;
    const pending = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(pendingError(flow)), options.waitForLoginMs);
    });
    try {
      return await withAbort(Promise.race([flow.done, pending]), options.signal);
    } finally {
      clearTimeout(timer);
    }
  };

  const session: DrioAuthSession = {
    store,

    async getAccessToken(options: GetAccessTokenOptions = {}) {
      const token = await usableToken(options.rejectedToken);
      if (token !== undefined) return token;
      const fresh = await waitForLogin(ensureLogin(), options);
      return fresh.access_token;
    },

    getAccessTokenIfSignedIn: () => usableToken(undefined),

    async status(): Promise<AuthStatus> {
      const data = await store.read();
      const stored = data.tokens;
      const flow = login?.flow;
      let loginInProgress = flow?.url !== undefined ? { url: flow.url, startedAt: flow.startedAt.toISOString() } : undefined;
      if (loginInProgress === undefined) {
        // A sign-in another drio-mcp process runs for this store counts too: its tab is the one to finish.
        const marker = await readLoginMarker(store);
        if (marker?.url !== undefined && isLive(marker, now())) loginInProgress = { url: marker.url, startedAt: marker.startedAt };
      }
      const expired = stored?.expires_at !== undefined && stored.expires_at <= nowSeconds();
      return {
        apiUrl: config.apiUrl,
        signedIn: stored !== undefined && (!expired || stored.refresh_token !== undefined),
        accessTokenExpiresAt: stored?.expires_at !== undefined ? new Date(stored.expires_at * 1000).toISOString() : undefined,
        canRefresh: stored?.refresh_token !== undefined,
        issuer: stored?.issuer ?? data.client?.issuer,
        clientId: stored?.client_id ?? data.client?.client_id,
        storePath: store.path,
        ...(loginInProgress ? { loginInProgress } : {}),
      };
    },

    async login(options = {}) {
      await ensureLoaded();
      const entry = ensureLogin(true);
      const onAbort = () => {
        entry.abort.abort();
        void entry.flow?.cancel();
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await waitForLogin(entry, { signal: options.signal });
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
    },

    async logout() {
      await cancelLogin();
      const revoked = await store.withLock(async () => {
        const current = await store.read();
        const stored = current.tokens;
        let didRevoke = false;
        if (stored) didRevoke = await revoke(stored);
        if (stored) {
          const { tokens: _dropped, ...rest } = current;
          await store.write(rest);
        }
        await store.removeLeftoverTempFiles();
        tokens = undefined;
        return didRevoke;
      });
      return { revoked };
    },

    async close() {
      closed = true;
      await cancelLogin();
    },
  };

  const cancelLogin = async (): Promise<void> => {
    const entry = login;
    if (!entry) return;
    entry.abort.abort();
    const flow = await entry.started.catch(() => undefined);
    await flow?.cancel();
  };

  /** Revokes the refresh token (else the access token) where a revocation endpoint is advertised. */
  const revoke = async (stored: StoredTokens): Promise<boolean> => {
    try {
      const { metadata } = await discovery.get();
      if (metadata.revocation_endpoint === undefined || metadata.issuer !== stored.issuer) return false;
      const cfg = buildClientConfiguration(metadata, stored.client_id, config.requestTimeoutMs);
      const token = stored.refresh_token ?? stored.access_token;
      await oauth.tokenRevocation(cfg, token, { token_type_hint: stored.refresh_token ? 'refresh_token' : 'access_token' });
      return true;
    } catch (err) {
      const mapped = toAuthError(err, 'Revoking the drio sign-in', 'the revocation endpoint');
      logger.warn(`${mapped.message} Local tokens are removed anyway.`);
      return false;
    }
  };

  return session;
}

/** What a caller that stops waiting is told: the URL to open, when it is known yet. */
function pendingError(flow: SharedLogin): AuthError {
  if (flow.url !== undefined) return new LoginPendingError(flow.url);
  return new AuthError(
    'ERR_AUTH_LOGIN_PENDING',
    `drio-mcp process ${flow.ownerPid ?? process.pid} is starting a sign-in to drio; its link is in that process's log. Ask again in a moment.`,
  );
}

/** Rejects when `signal` aborts (the underlying work goes on for other waiters). */
function withAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new AuthError('ERR_AUTH_LOGIN_ABORTED', 'Waiting for the drio sign-in was cancelled.'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AuthError('ERR_AUTH_LOGIN_ABORTED', 'Waiting for the drio sign-in was cancelled.'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
