/**
 * The HTTP layer under every drio API version: bearer tokens with one refresh-and-retry on 401,
 * bounded retries for safe requests, timeouts, and the drio error envelope turned into ApiError.
 * It knows no routes and no shapes; those live in the per-version modules (v1.ts).
 */
import { STATUS_CODES } from 'node:http';
import { ApiError, InvalidResponseError, NetworkError, fetchFailureReason, networkCauseOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { TokenSource } from '../auth/types.js';

/** One request as a version module describes it. */
export interface DrioRequest {
  method: 'GET' | 'POST';
  /** Path below the base URL, already validated and encoded, e.g. `/api/v1/apps/app_1`. */
  path: string;
  /** `public` requests never ask the TokenSource for anything. */
  auth: 'public' | 'bearer';
  /** JSON body for POST. */
  body?: unknown;
  /** What this is, for messages: "the app list", "app app_1". */
  what: string;
}

export interface RequestOptions {
  /** Cancels the request (e.g. the MCP client cancelled the tool call). */
  signal?: AbortSignal;
}

export interface HttpOptions {
  /** drio base URL without trailing slash. */
  apiUrl: string;
  tokens: TokenSource;
  /** Per-attempt timeout. */
  timeoutMs: number;
  userAgent: string;
  logger: Logger;
  /** Retry policy for safe requests; defaults suit interactive use. */
  retry?: Partial<RetryPolicy>;
}

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  /** Total time spent waiting between attempts; a longer Retry-After fails at once. */
  maxTotalWaitMs: number;
  /** First backoff when drio gives no Retry-After; doubles each time. */
  baseDelayMs: number;
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, maxTotalWaitMs: 10_000, baseDelayMs: 300 };
const RETRYABLE_STATUSES = new Set([429, 503]);

/** Sends a request and returns the parsed JSON body of a 2xx answer. */
export type DrioHttp = (request: DrioRequest, options?: RequestOptions) => Promise<unknown>;

/** Creates the HTTP function the version modules call. */
export function createDrioHttp(options: HttpOptions): DrioHttp {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const base = options.apiUrl.replace(/\/+$/, '');
  const where = `drio at ${base}`;

  return async function request(req, reqOptions) {
    const url = base + req.path;
    // Only GET is safe to repeat: a command or a create may have run even if the answer was lost.
    const safe = req.method === 'GET';
    let token: string | undefined;
    let refreshedAfter401 = false;
    let waitedMs = 0;

    for (let attempt = 1; ; attempt++) {
      if (req.auth === 'bearer' && token === undefined) {
        token = await options.tokens.getAccessToken({ signal: reqOptions?.signal });
      }
      let response: Exchange;
      try {
        response = await exchange(url, req, token, options, reqOptions?.signal);
      } catch (error) {
        if (reqOptions?.signal?.aborted) throw error;
        const networkError = toNetworkError(error, where, options.timeoutMs);
        if (!networkError) throw error; // cancelled by the caller
        const delay = backoff(policy, attempt);
        if (safe && isTransient(error) && attempt < policy.maxAttempts && waitedMs + delay <= policy.maxTotalWaitMs) {
          options.logger.debug(`drio request failed, retrying`, { what: req.what, reason: networkError.message });
          waitedMs += delay;
          await sleep(delay, reqOptions?.signal);
          continue;
        }
        throw networkError;
      }

      if (response.ok) return parseJson(response, req.what);

      if (response.status === 401 && req.auth === 'bearer' && !refreshedAfter401 && token !== undefined) {
        // The token may have expired or been revoked: ask the session for a fresh one, once.
        refreshedAfter401 = true;
        options.logger.debug('drio answered 401, refreshing the token once', { what: req.what });
        token = await options.tokens.getAccessToken({ rejectedToken: token, signal: reqOptions?.signal });
        attempt--; // a refresh is not a retry of a failing server
        continue;
      }

      const error = toApiError(response);
      if (safe && RETRYABLE_STATUSES.has(response.status) && attempt < policy.maxAttempts) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
        const delay = retryAfterMs ?? backoff(policy, attempt);
        if (waitedMs + delay > policy.maxTotalWaitMs) {
          if (retryAfterMs !== undefined) throw busyError(error, retryAfterMs);
          throw error;
        }
        options.logger.info(`drio is busy (${response.status}), retrying in ${Math.ceil(delay / 100) / 10} s`, { what: req.what });
        waitedMs += delay;
        await sleep(delay, reqOptions?.signal);
        continue;
      }
      if (RETRYABLE_STATUSES.has(response.status)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
        if (retryAfterMs !== undefined) throw busyError(error, retryAfterMs);
      }
      throw error;
    }
  };
}

/** A whole HTTP exchange: status, headers and the body text, read within one deadline. */
interface Exchange {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  text: string;
}

// undici's request API is Node's own HTTP engine without the WHATWG fetch layers (streams, Request/Response
// objects): measured here, about half the CPU per call of `fetch` for the same GET. Loaded on the first request
// so it stays out of start-up.
let undici: Promise<typeof import('./undici.js')> | undefined;

/**
 * Sends one attempt and reads its whole body under a single deadline that also follows the caller's signal.
 * The timer is cleared as soon as the body is in, so no timer or listener outlives its request: per-request
 * `AbortSignal.timeout`/`AbortSignal.any` would each keep a 30 s timer and its closures alive after the call,
 * which at a few calls per millisecond is both slower and a steady heap of pending timers.
 */
async function exchange(url: string, req: DrioRequest, token: string | undefined, options: HttpOptions, outer: AbortSignal | undefined): Promise<Exchange> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': options.userAgent };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.body);
  }
  const { request } = await (undici ??= import('./undici.js'));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${options.timeoutMs} ms`, 'TimeoutError')), options.timeoutMs);
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const response = await request(url, { method: req.method, headers, body, signal: controller.signal });
    // Aborting the controller also errors a body that stalls after the headers.
    const text = await response.body.text();
    const raw = response.headers;
    return {
      ok: response.statusCode >= 200 && response.statusCode < 300,
      status: response.statusCode,
      statusText: STATUS_CODES[response.statusCode] ?? '',
      headers: {
        get(name) {
          const value = raw[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
      },
      text,
    };
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

function parseJson(response: Exchange, what: string): unknown {
  try {
    return JSON.parse(response.text);
  } catch (cause) {
    throw new InvalidResponseError(what, { cause, requestId: response.headers.get('x-request-id') ?? undefined });
  }
}

/** Parses drio's error envelope; accepts `requestId` (v1) and `request_id` (later versions). */
function toApiError(response: Exchange): ApiError {
  const headerId = response.headers.get('x-request-id') ?? undefined;
  const envelope = parseEnvelope(response.text);
  if (envelope) {
    return new ApiError({
      status: response.status,
      apiCode: envelope.code ?? `http_${response.status}`,
      message: envelope.message ?? defaultMessage(response),
      requestId: envelope.requestId ?? headerId,
      details: envelope.details,
    });
  }
  return new ApiError({
    status: response.status,
    apiCode: `http_${response.status}`,
    message: `${defaultMessage(response)} (the response was not drio's JSON error format)`,
    requestId: headerId,
  });
}

function parseEnvelope(raw: string): { code?: string; message?: string; requestId?: string; details?: unknown } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const inner = isRecord(parsed.error) ? parsed.error : undefined;
  if (inner) {
    return {
      code: str(inner.code),
      message: str(inner.message),
      requestId: str(inner.requestId) ?? str(inner.request_id) ?? str(parsed.requestId) ?? str(parsed.request_id),
      details: inner.details,
    };
  }
  // OAuth-style bodies ({"error": "invalid_token", "error_description": "..."}) from a gateway.
  if (typeof parsed.error === 'string') {
    return { code: parsed.error, message: str(parsed.error_description), requestId: str(parsed.requestId) ?? str(parsed.request_id) };
  }
  return undefined;
}

function defaultMessage(response: Exchange): string {
  return response.statusText || `HTTP ${response.status}`;
}

function busyError(error: ApiError, retryAfterMs: number): ApiError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new ApiError({
    status: error.status,
    apiCode: error.apiCode,
    message: `drio is busy and asked to wait ${seconds} s before trying again; try again later`,
    requestId: error.requestId,
    details: error.details,
  });
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const base = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Maps fetch failures to NetworkError; undefined for a cancellation by the caller. */
function toNetworkError(error: unknown, where: string, timeoutMs: number): NetworkError | undefined {
  if (error instanceof NetworkError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError') {
    return new NetworkError(where, `no answer within ${Math.round(timeoutMs / 100) / 10} s`, { cause: error, timeout: true });
  }
  if (name === 'AbortError') return undefined;
  return new NetworkError(where, fetchFailureReason(error), { cause: error });
}

// A dropped connection may well work a moment later; a refused one or a bad address will not.
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'EAI_AGAIN']);

function isTransient(error: unknown): boolean {
  const { code } = networkCauseOf(error);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
