import { setTimeout as sleep } from 'node:timers/promises';
import { AuthError, DrioMcpError, type DrioMcpErrorCode } from '../errors.js';
import { redact } from '../log.js';
import { startLogin, type LoginContext, type LoginFlow } from './login.js';
import { claimLogin, isLive, readLoginMarker, type LoginClaim, type LoginMarker, type LoginOutcome } from './login-marker.js';
import type { StoredTokens } from './store.js';

/** How often a follower looks at the store and the marker: cheap reads of two small files. */
const POLL_MS = 250;
/** How long a follower waits for the owner to publish its URL before it reports the sign-in without one. */
const URL_WAIT_MS = 5_000;

/** A sign-in this process waits for: its own browser flow, or the one another drio-mcp process runs. */
export interface SharedLogin {
  /** The sign-in URL: this process's, or the one the process running the flow published; undefined until known. */
  readonly url: string | undefined;
  readonly startedAt: Date;
  /** The pid of the process running the browser flow, when that is not this one. */
  readonly ownerPid: number | undefined;
  /** Settles with tokens already in the store, or with why the sign-in failed. */
  readonly done: Promise<StoredTokens>;
  /** Ends this process's flow, or its following (another process's flow goes on). */
  cancel(): Promise<void>;
}

export interface SharedLoginOptions {
  signal?: AbortSignal;
  /** Stored tokens that end the wait (ones this process has not already found unusable), else undefined. */
  accept: (tokens: StoredTokens | undefined) => StoredTokens | undefined;
}

type FollowEnd = { kind: 'signed-in'; tokens: StoredTokens } | { kind: 'failed'; marker: LoginMarker } | { kind: 'abandoned' };

/**
 * Starts or joins the one sign-in of this machine: claims the login marker and runs the browser flow, or follows the
 * flow another process runs by watching the store (no listener, no browser, no presenter; its URL goes to stderr
 * once). Takes the sign-in over when that flow is abandoned: its process cancelled it, closed, died, or overran.
 * Resolves once a URL is known (bounded wait when following) or the sign-in is over; rejects when it failed before that.
 */
export function startSharedLogin(ctx: LoginContext, options: SharedLoginOptions): Promise<SharedLogin> {
  const { config, store, logger } = ctx;
  const now = ctx.now ?? Date.now;
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  if (options.signal?.aborted) abort.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let url: string | undefined;
  let ownerPid: number | undefined;
  let startedAt = new Date(now());
  let ownFlow: LoginFlow | undefined;
  const shownUrls = new Set<string>();
  let resolveReady!: () => void;
  let rejectReady!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });

  const aborted = () => new AuthError('ERR_AUTH_LOGIN_ABORTED', 'Sign-in to drio was cancelled.');

  const runOwn = async (claim: LoginClaim): Promise<StoredTokens> => {
    ownerPid = undefined;
    url = undefined;
    let flow: LoginFlow;
    try {
      flow = await startLogin(ctx, { signal: abort.signal });
    } catch (err) {
      await claim.release(outcomeOf(err));
      throw err;
    }
    ownFlow = flow;
    url = flow.url;
    startedAt = flow.startedAt;
    resolveReady();
    // The listener's timeout runs from about now; a code exchange under way may add one request timeout.
    await claim.publish(flow.url, now() + config.loginTimeoutMs + config.requestTimeoutMs);
    try {
      const tokens = await flow.done;
      await claim.release();
      return tokens;
    } catch (err) {
      await claim.release(outcomeOf(err));
      throw err;
    }
  };

  const showFollowed = (marker: LoginMarker): void => {
    ownerPid = marker.pid;
    startedAt = new Date(marker.startedAt);
    url = marker.url;
    if (marker.url === undefined) return;
    resolveReady();
    if (shownUrls.has(marker.url)) return;
    shownUrls.add(marker.url);
    // Not the presenter: the owner already opened the one tab (or elicitation); this is for a user reading logs.
    ctx.stderr(`drio-mcp: drio-mcp process ${marker.pid} is already signing in to drio (one browser tab for all); finish there, or open this URL: ${marker.url}\n`);
  };

  const follow = async (first: LoginMarker): Promise<FollowEnd> => {
    let followed = first;
    logger.info(`drio-mcp process ${first.pid} is already signing in to drio; waiting for it instead of opening another browser tab.`);
    showFollowed(followed);
    const urlWait = setTimeout(resolveReady, URL_WAIT_MS);
    try {
      for (;;) {
        await sleep(POLL_MS, undefined, { signal: abort.signal }).catch(() => {
          throw aborted();
        });
        const tokens = options.accept((await store.read()).tokens);
        if (tokens) return { kind: 'signed-in', tokens };
        const current = await readLoginMarker(store);
        // Removed without tokens: cancelled or closed there (a failure would have left its outcome first).
        if (current === undefined) return { kind: 'abandoned' };
        if (current.id === followed.id && current.outcome) return { kind: 'failed', marker: current };
        if (!isLive(current, now())) return { kind: 'abandoned' };
        if (current.id !== followed.id || current.url !== followed.url) {
          followed = current;
          showFollowed(current);
        }
      }
    } finally {
      clearTimeout(urlWait);
    }
  };

  const run = async (): Promise<StoredTokens> => {
    const claimTtlMs = config.loginTimeoutMs + 4 * config.requestTimeoutMs; // discovery and registration come first
    for (;;) {
      if (abort.signal.aborted) throw aborted();
      const claimed = await claimLogin(store, { logger, now, ttlMs: claimTtlMs, accept: options.accept });
      if (claimed.kind === 'signed-in') return claimed.tokens;
      if (claimed.kind === 'claimed') return runOwn(claimed.claim);
      const end = await follow(claimed.marker);
      if (end.kind === 'signed-in') return end.tokens;
      if (end.kind === 'failed') throw followedFailure(end.marker);
      logger.info('The sign-in another drio-mcp process was running stopped without signing in; taking it over.');
    }
  };

  const done = run().finally(() => options.signal?.removeEventListener('abort', onAbort));
  done.then(resolveReady, rejectReady);
  done.catch(() => undefined); // Callers may look at `done` only later: never an unhandled rejection.

  const login: SharedLogin = {
    get url() {
      return url;
    },
    get startedAt() {
      return startedAt;
    },
    get ownerPid() {
      return ownerPid;
    },
    done,
    async cancel() {
      abort.abort();
      await ownFlow?.cancel();
      await done.catch(() => undefined);
    },
  };
  return ready.then(() => login);
}

/** What followers learn of this process's failed flow; none for a cancelled one, so that they take over. */
function outcomeOf(err: unknown): LoginOutcome | undefined {
  if (!(err instanceof DrioMcpError)) return { code: 'ERR_AUTH_OAUTH', message: 'Sign-in to drio failed unexpectedly.' };
  if (err.code === 'ERR_AUTH_LOGIN_ABORTED') return undefined;
  return { code: err.code, message: redact(err.message) };
}

/** The error of a followed flow, as its owner saw it, naming the process that ran it. */
function followedFailure(marker: LoginMarker): DrioMcpError {
  const outcome = marker.outcome ?? { code: 'ERR_AUTH_OAUTH', message: 'Sign-in to drio failed.' };
  const message = `${outcome.message} (drio-mcp process ${marker.pid} ran this sign-in for all drio-mcp processes here.)`;
  return isAuthCode(outcome.code) ? new AuthError(outcome.code, message) : new DrioMcpError(outcome.code, message);
}

function isAuthCode(code: DrioMcpErrorCode): code is Extract<DrioMcpErrorCode, `ERR_AUTH_${string}`> {
  return code.startsWith('ERR_AUTH_');
}
