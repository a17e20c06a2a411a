import type { TokenSource } from '../auth/types.js';
import { VERSION } from '../config.js';
import type { Logger } from '../log.js';
import type { DrioClient } from './api.js';
import { createDrioHttp, type RetryPolicy } from './http.js';
import { createV1Client } from './v1.js';

export interface DrioClientOptions {
  /** drio base URL, e.g. https://getdrio.com (Config.apiUrl). */
  apiUrl: string;
  /** Where bearer tokens come from; public routes never call it. */
  tokens: TokenSource;
  /** Per-attempt timeout (Config.requestTimeoutMs). */
  timeoutMs: number;
  /** Defaults to `drio-mcp/<version>`. */
  userAgent?: string;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
}

/** Creates a drio API client speaking API v1, the version drio-mcp is built against. */
export function createDrioClient(options: DrioClientOptions): DrioClient {
  const http = createDrioHttp({
    apiUrl: options.apiUrl,
    tokens: options.tokens,
    timeoutMs: options.timeoutMs,
    userAgent: options.userAgent ?? `drio-mcp/${VERSION}`,
    logger: options.logger,
    retry: options.retry,
  });
  return createV1Client(http);
}
