/**
 * One base error with a stable code, subclasses carrying their domain data (the jose model).
 * Messages are written for a person: they are what a tool result shows. They never contain a token.
 */

/** Every error code, at run time (e.g. to check one read back from a file). */
export const DRIO_MCP_ERROR_CODES = [
  'ERR_CONFIG',
  'ERR_INPUT',
  'ERR_API',
  'ERR_API_GONE',
  'ERR_NETWORK',
  'ERR_TIMEOUT',
  'ERR_INVALID_RESPONSE',
  'ERR_AUTH_DISCOVERY',
  'ERR_AUTH_REGISTRATION',
  'ERR_AUTH_OAUTH',
  'ERR_AUTH_DENIED',
  'ERR_AUTH_LOGIN_PENDING',
  'ERR_AUTH_LOGIN_TIMEOUT',
  'ERR_AUTH_LOGIN_ABORTED',
  'ERR_AUTH_CALLBACK_PORT',
  'ERR_AUTH_STORE',
] as const;

/** The closed union of error codes. */
export type DrioMcpErrorCode = (typeof DRIO_MCP_ERROR_CODES)[number];

/** Base class: `code` is from a closed union so callers branch on it, never on message text. */
export class DrioMcpError extends Error {
  readonly code: DrioMcpErrorCode;
  constructor(code: DrioMcpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Configuration (env vars, flags) is invalid. */
export class ConfigError extends DrioMcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}

/** Tool arguments are invalid; `issues` names each field. */
export class InputError extends DrioMcpError {
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
  constructor(issues: ReadonlyArray<{ path: string; message: string }>) {
    const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    super('ERR_INPUT', `Invalid arguments: ${list}`);
    this.issues = issues;
  }
}

/** drio answered with its error envelope (or a non-2xx without one). */
export class ApiError extends DrioMcpError {
  readonly status: number;
  readonly apiCode: string;
  readonly requestId: string | undefined;
  // Non-enumerable: details may be large; logs and JSON dumps of the error stay short.
  declare readonly details: unknown;
  constructor(init: { status: number; apiCode: string; message: string; requestId?: string; details?: unknown }) {
    const gone = init.status === 410 || init.apiCode === 'gone';
    const text = gone
      ? `drio has retired this API version (${init.message}). Update drio-mcp to a version that speaks drio's current API.`
      : `drio error ${init.status} ${init.apiCode}: ${init.message}`;
    super(gone ? 'ERR_API_GONE' : 'ERR_API', init.requestId ? `${text} (request id ${init.requestId})` : text);
    this.status = init.status;
    this.apiCode = init.apiCode;
    this.requestId = init.requestId;
    Object.defineProperty(this, 'details', { value: init.details, enumerable: false });
  }
}

/** Socket error codes in the words a person reads in a tool result. */
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed unexpectedly',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

/**
 * Why a `fetch` failed, in a form NetworkError words: the socket error code when there is one
 * (`ECONNREFUSED`...), else undici's own reason (e.g. "bad port"), never the bare "fetch failed".
 */
export function fetchFailureReason(error: unknown): string {
  const { code, message } = networkCauseOf(error);
  if (code && /CERT|SSL|TLS/.test(code)) return `TLS certificate problem: ${code}`;
  if (code) return code;
  if (message) return message;
  return error instanceof Error ? error.message : String(error);
}

/** The socket-level code and message of a failed request, wherever the HTTP client put them. */
export function networkCauseOf(error: unknown): { code?: string; message?: string } {
  // fetch wraps the socket error in `cause`; undici's request API throws it (or its own UND_ERR_*) directly.
  const own = error as { code?: unknown; message?: unknown } | undefined;
  const cause = typeof own?.code === 'string' ? own : error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  return {
    code: typeof cause?.code === 'string' ? cause.code : undefined,
    message: typeof cause?.message === 'string' && cause.message ? cause.message : undefined,
  };
}

/** drio (or its sign-in server) could not be reached. `reason` may be a socket error code such as ECONNREFUSED. */
export class NetworkError extends DrioMcpError {
  constructor(url: string, reason: string, options?: { cause?: unknown; timeout?: boolean }) {
    super(options?.timeout ? 'ERR_TIMEOUT' : 'ERR_NETWORK', `Could not reach ${url} (${NETWORK_REASONS[reason] ?? reason}).`, options);
  }
}

/** A response did not have the shape drio documents. */
export class InvalidResponseError extends DrioMcpError {
  readonly requestId: string | undefined;
  constructor(what: string, options?: { cause?: unknown; requestId?: string }) {
    const text = `drio sent an unexpected response for ${what}.`;
    // The request id is what drio support needs to look into it.
    super('ERR_INVALID_RESPONSE', options?.requestId ? `${text} (request id ${options.requestId})` : text, options);
    this.requestId = options?.requestId;
  }
}

/** Anything that went wrong signing in. `code` says which step. */
export class AuthError extends DrioMcpError {
  constructor(
    code: Extract<DrioMcpErrorCode, `ERR_AUTH_${string}`>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A login is under way but has not completed within the caller's wait: the user must open `url`.
 * The flow keeps waiting in the background, so the next call can succeed.
 */
export class LoginPendingError extends AuthError {
  readonly url: string;
  constructor(url: string) {
    super('ERR_AUTH_LOGIN_PENDING', `Open this URL to sign in to drio, then ask again: ${url}`);
    this.url = url;
  }
}
