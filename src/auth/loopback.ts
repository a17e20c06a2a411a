import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthError } from '../errors.js';
import { safeCode } from './oauth-error.js';
import { loopbackRedirectUri } from './registration.js';

/** What the login does with a callback whose `state` matched: exchange the code. Its outcome picks the page. */
export type CallbackHandler<T> = (callbackUrl: URL) => Promise<T>;

/** A one-shot listener on 127.0.0.1 waiting for the authorization response. */
export interface CallbackListener<T> {
  /** The bound address (tests use it). */
  readonly address: AddressInfo;
  readonly port: number;
  /** `http://127.0.0.1:<port>/callback`, exactly as registered. */
  readonly redirectUri: string;
  /** Settles with the handler's result, or rejects (denied, timeout, aborted, exchange failure). Always closes the listener. */
  readonly result: Promise<T>;
  /** Stops waiting (rejects `result` with ERR_AUTH_LOGIN_ABORTED if still pending) and closes. */
  close(): Promise<void>;
}

export interface CallbackListenerOptions<T> {
  /** 0 picks a free port. */
  port: number;
  expectedState: string;
  timeoutMs: number;
  onCallback: CallbackHandler<T>;
  signal?: AbortSignal;
}

/** Thrown by `startCallbackListener` when the port is taken; the caller picks another. */
export class CallbackPortBusyError extends AuthError {
  readonly port: number;
  constructor(port: number, options?: { cause?: unknown }) {
    super('ERR_AUTH_CALLBACK_PORT', `Port ${port} on 127.0.0.1 is already in use, so drio-mcp cannot receive the sign-in there.`, options);
    this.port = port;
  }
}

/**
 * Starts the callback listener on 127.0.0.1:`port`. Rejects with CallbackPortBusyError on EADDRINUSE (never crashes).
 * Stray requests (other paths, favicon, foreign Host headers, forged `state`) are answered and ignored; the flow
 * ends only on a matching callback, the timeout, or an abort.
 */
export async function startCallbackListener<T>(options: CallbackListenerOptions<T>): Promise<CallbackListener<T>> {
  const server = createServer();
  await listen(server, options.port);
  const address = server.address() as AddressInfo;
  const redirectUri = loopbackRedirectUri(address.port);
  const allowedHosts = new Set([`127.0.0.1:${address.port}`, `localhost:${address.port}`]);

  let settled = false;
  let handling = false;
  let resolveResult!: (value: T) => void;
  let rejectResult!: (reason: unknown) => void;
  const result = new Promise<T>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // The caller may only look at `result` later (background logins): never an unhandled rejection.
  result.catch(() => undefined);

  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      server.close(() => resolve());
      // Browsers keep connections alive; let in-flight responses flush, then cut the rest.
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 250).unref();
    });
    return closing;
  };
  const finish = (outcome: { ok: true; value: T } | { ok: false; error: unknown }): void => {
    if (settled) return;
    settled = true;
    if (outcome.ok) resolveResult(outcome.value);
    else rejectResult(outcome.error);
    void shutdown();
  };

  const timer = setTimeout(() => {
    // A code exchange under way has its own request timeout: let it finish rather than discard its tokens.
    if (handling) return;
    finish({
      ok: false,
      error: new AuthError(
        'ERR_AUTH_LOGIN_TIMEOUT',
        `Sign-in to drio timed out after ${Math.round(options.timeoutMs / 1000)} s without an answer from the browser. Ask again to get a new sign-in link.`,
      ),
    });
  }, options.timeoutMs);
  timer.unref();
  const onAbort = (): void => finish({ ok: false, error: new AuthError('ERR_AUTH_LOGIN_ABORTED', 'Sign-in to drio was cancelled.') });
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void handleRequest(req, res);
  });

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // DNS-rebinding guard: only requests addressed to this listener by its loopback name count.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return sendPage(res, 400, PAGES.badRequest);
    // A raw client can send a request-target no URL parser accepts (`GET http://[::1 HTTP/1.1`): answer it, never throw.
    if (!URL.canParse(req.url ?? '/', `http://127.0.0.1:${address.port}`)) return sendPage(res, 400, PAGES.badRequest);
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${address.port}`);
    if (url.pathname !== '/callback') return sendPage(res, 404, PAGES.notFound);
    if (req.method !== 'GET') return sendPage(res, 405, PAGES.badRequest, { allow: 'GET' });
    if (settled || handling) return sendPage(res, 410, PAGES.expired);
    // state first: nothing else in a response we did not ask for is looked at.
    if (url.searchParams.get('state') !== options.expectedState) return sendPage(res, 400, PAGES.mismatch);

    const error = url.searchParams.get('error');
    if (error !== null) {
      const denied = error === 'access_denied';
      sendPage(res, denied ? 403 : 400, denied ? PAGES.denied : PAGES.failed);
      finish({
        ok: false,
        error: denied
          ? new AuthError('ERR_AUTH_DENIED', 'Sign-in to drio was cancelled or denied in the browser.')
          : new AuthError('ERR_AUTH_OAUTH', `The sign-in server returned an error: ${safeCode(error)}.`),
      });
      return;
    }
    if (!url.searchParams.get('code')) return sendPage(res, 400, PAGES.badRequest);

    handling = true;
    // Rebuild from the registered redirect URI so the token request sends exactly that redirect_uri.
    const callbackUrl = new URL(redirectUri);
    callbackUrl.search = url.search;
    try {
      const value = await options.onCallback(callbackUrl);
      sendPage(res, 200, PAGES.signedIn);
      finish({ ok: true, value });
    } catch (err) {
      const expired = err instanceof AuthError && err.code === 'ERR_AUTH_LOGIN_TIMEOUT';
      sendPage(res, expired ? 410 : 400, expired ? PAGES.expired : PAGES.failed);
      finish({ ok: false, error: err });
    }
  };

  return {
    address,
    port: address.port,
    redirectUri,
    result,
    close: async () => {
      if (!settled) onAbort();
      await shutdown();
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') reject(new CallbackPortBusyError(port, { cause: err }));
      else reject(new AuthError('ERR_AUTH_CALLBACK_PORT', `Cannot listen on 127.0.0.1:${port} for the sign-in callback (${err.code ?? err.message}).`, { cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // 127.0.0.1 only: never reachable from another machine.
    server.listen({ host: '127.0.0.1', port, exclusive: true });
  });
}

interface Page {
  title: string;
  message: string;
}

const PAGES = {
  signedIn: { title: 'Signed in', message: 'drio-mcp is now signed in to drio. You can close this tab and return to your assistant.' },
  denied: { title: 'Sign-in cancelled', message: 'drio-mcp was not given access to drio. You can close this tab; ask your assistant again to retry.' },
  failed: { title: 'Sign-in failed', message: 'drio-mcp could not complete the sign-in. You can close this tab; the reason is shown where drio-mcp runs.' },
  expired: { title: 'Sign-in expired', message: 'This drio-mcp sign-in has already finished or expired. Close this tab and use the latest sign-in link.' },
  mismatch: {
    title: 'Sign-in link mismatch',
    message: 'This response does not belong to the sign-in drio-mcp is waiting for (state mismatch), so it was ignored. Use the latest sign-in link.',
  },
  notFound: { title: 'Not found', message: 'This is drio-mcp\u2019s sign-in listener; there is nothing here.' },
  badRequest: { title: 'Bad request', message: 'drio-mcp\u2019s sign-in listener did not understand this request.' },
} satisfies Record<string, Page>;

function sendPage(res: ServerResponse, status: number, page: Page, extraHeaders: Record<string, string> = {}): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drio-mcp: ${page.title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style></head>
<body><h1>drio-mcp: ${page.title}</h1><p>${page.message}</p></body></html>
`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    // The callback URL carries the code: never leak it through a Referer, and load nothing.
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-frame-options': 'DENY',
    connection: 'close',
    ...extraHeaders,
  });
  res.end(html);
}
