import type { LogLevel } from './config.js';

/**
 * stderr-only logger. stdout belongs to the MCP protocol, so nothing here ever writes to it.
 * Every message passes through `redact` first, so a token that slips into a log line is masked.
 */
export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** Receives every emitted (already redacted) record, e.g. to forward as MCP logging notifications. */
export type LogSink = (level: Exclude<LogLevel, 'silent'>, message: string) => void;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

const SECRET_PATTERNS: RegExp[] = [
  // JWTs (three base64url segments, the first starting with `eyJ`).
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
  // Bearer credentials in headers or messages.
  /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  // OAuth parameters and JSON fields that carry secrets.
  /\b((?:access_token|refresh_token|id_token|code|code_verifier|client_secret|accessToken|refreshToken)["']?\s*[:=]\s*["']?)[A-Za-z0-9._~+/=-]{6,}/g,
];

/** Masks anything token-like in `text`. */
export function redact(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match, prefix?: unknown) => (typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]'));
  }
  return out;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; defaults to process.stderr. */
  write?: (line: string) => void;
  sinks?: LogSink[];
}

/** Creates a logger writing `drio-mcp [level] message {json}` lines to stderr. */
export function createLogger(options: LoggerOptions): Logger & { addSink(sink: LogSink): () => void } {
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const sinks = new Set<LogSink>(options.sinks ?? []);
  const threshold = ORDER[options.level];
  const emit = (level: Exclude<LogLevel, 'silent'>, message: string, data?: Record<string, unknown>) => {
    if (ORDER[level] < threshold) return;
    const text = redact(data && Object.keys(data).length > 0 ? `${message} ${safeJson(data)}` : message);
    write(`drio-mcp [${level}] ${text}\n`);
    for (const sink of sinks) {
      try {
        sink(level, text);
      } catch {
        // A failing sink (e.g. a closed transport) must never break the caller.
      }
    }
  };
  return {
    debug: (m, d) => emit('debug', m, d),
    info: (m, d) => emit('info', m, d),
    warn: (m, d) => emit('warn', m, d),
    error: (m, d) => emit('error', m, d),
    addSink(sink) {
      sinks.add(sink);
      return () => sinks.delete(sink);
    },
  };
}

function safeJson(data: Record<string, unknown>): string {
  try {
    return JSON.stringify(data, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value));
  } catch {
    return '[unserialisable]';
  }
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
