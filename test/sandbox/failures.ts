import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Failure } from './types.js';
import { sendJson, sleep } from './http-util.js';

interface Entry {
  failure: Failure;
  left: number; // Infinity when `times` is omitted
}

/** "post  /token" -> "POST /token"; a bare path ("/token") matches every method. */
export function normalizeKey(key: string): string {
  const parts = key.trim().split(/\s+/);
  if (parts.length === 1) return `* ${parts[0]}`;
  return `${parts[0]!.toUpperCase()} ${parts.slice(1).join(' ')}`;
}

/** Forced failures by route key, shared by both servers. Several failures on one key run in order. */
export class FailureBook {
  readonly #entries = new Map<string, Entry[]>();

  add(routeKey: string, failure: Failure): void {
    const key = normalizeKey(routeKey);
    const left = failure.times === undefined ? Infinity : Math.max(0, Math.floor(failure.times));
    if (left === 0) return;
    const list = this.#entries.get(key) ?? [];
    list.push({ failure, left });
    this.#entries.set(key, list);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Consume one use of the first failure registered for any of the keys ("METHOD /path"). */
  take(keys: string[]): Failure | undefined {
    for (const k of keys) {
      const path = k.slice(k.indexOf(' ') + 1);
      for (const candidate of [k, `* ${path}`]) {
        const list = this.#entries.get(candidate);
        const entry = list?.[0];
        if (!list || !entry) continue;
        entry.left -= 1;
        if (entry.left <= 0) list.shift();
        if (list.length === 0) this.#entries.delete(candidate);
        return entry.failure;
      }
    }
    return undefined;
  }
}

export type StatusBody = (status: number, code: string | undefined, message: string | undefined) => unknown;

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  410: 'gone',
  422: 'validation_error',
  429: 'rate_limited',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

export function defaultCode(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
}

/**
 * Apply a failure. Returns true when the response was fully handled (or the socket dropped);
 * false when the request should proceed normally (after a delay).
 */
export async function applyFailure(
  failure: Failure,
  req: IncomingMessage,
  res: ServerResponse,
  statusBody: StatusBody,
  extraHeaders: (status: number) => Record<string, string> = () => ({}),
): Promise<boolean> {
  switch (failure.kind) {
    case 'delay':
      await sleep(failure.ms);
      return false;
    case 'drop':
      req.resume();
      req.socket.destroy();
      return true;
    case 'malformed': {
      const text = '{"truncated": [1, 2, {"oops": ';
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(text.length) });
      res.end(text);
      return true;
    }
    case 'json':
      req.resume();
      sendJson(res, failure.status ?? 200, failure.body);
      return true;
    case 'status': {
      req.resume();
      const headers: Record<string, string> = { ...extraHeaders(failure.status) };
      if (failure.retryAfter !== undefined) headers['retry-after'] = String(failure.retryAfter);
      sendJson(res, failure.status, statusBody(failure.status, failure.code, failure.message), headers);
      return true;
    }
  }
}
