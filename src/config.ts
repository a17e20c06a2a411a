import envPaths from 'env-paths';
import { z } from 'zod';
import { ConfigError } from './errors.js';

declare const __DRIO_MCP_VERSION__: string | undefined;

/** The version baked in by the bundler; `0.0.0-dev` when running from source. */
export const VERSION: string = typeof __DRIO_MCP_VERSION__ === 'string' ? __DRIO_MCP_VERSION__ : '0.0.0-dev';

export const DEFAULT_API_URL = 'https://getdrio.com';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Everything drio-mcp reads from its environment, validated once. Nothing else reads process.env. */
export interface Config {
  /** drio base URL without trailing slash, e.g. https://getdrio.com */
  readonly apiUrl: string;
  /** Directory holding credentials and cached metadata (0700). */
  readonly configDir: string;
  /** Fixed loopback callback port, or undefined to pick one. */
  readonly callbackPort: number | undefined;
  readonly logLevel: LogLevel;
  /** How long a tool call waits for a browser sign-in before answering with the URL. */
  readonly loginWaitMs: number;
  /** How long a started sign-in stays open in the background. */
  readonly loginTimeoutMs: number;
  /** Timeout for each HTTP request to drio or its sign-in server. */
  readonly requestTimeoutMs: number;
  /** false when DRIO_MCP_NO_BROWSER is set: only print the sign-in URL. */
  readonly openBrowser: boolean;
  readonly version: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** True for hosts that never leave this machine, where plain http is acceptable. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/** Accepts https anywhere, http only on loopback. Returns the normalised URL string. */
export function checkSecureUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${what} is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  throw new ConfigError(`${what} must use https (plain http is only allowed for 127.0.0.1, localhost or [::1]): ${raw}`);
}

const positiveInt = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

const EnvSchema = z.object({
  DRIO_API_URL: z.string().trim().min(1).optional(),
  DRIO_MCP_CONFIG_DIR: z.string().trim().min(1).optional(),
  DRIO_MCP_CALLBACK_PORT: positiveInt('DRIO_MCP_CALLBACK_PORT', 1, 65535).optional(),
  DRIO_MCP_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).optional(),
  DRIO_MCP_LOGIN_WAIT_SECONDS: positiveInt('DRIO_MCP_LOGIN_WAIT_SECONDS', 0, 3600).optional(),
  DRIO_MCP_LOGIN_TIMEOUT_SECONDS: positiveInt('DRIO_MCP_LOGIN_TIMEOUT_SECONDS', 5, 86_400).optional(),
  DRIO_MCP_REQUEST_TIMEOUT_SECONDS: positiveInt('DRIO_MCP_REQUEST_TIMEOUT_SECONDS', 1, 600).optional(),
  DRIO_MCP_NO_BROWSER: z.string().optional(),
});

/** Reads and validates the environment. Throws ConfigError naming the offending variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blankToUndefined = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('DRIO_') && v !== undefined && v.trim() !== ''),
  );
  const parsed = EnvSchema.safeParse(blankToUndefined);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ConfigError(`Invalid ${String(first?.path[0] ?? 'setting')}: ${first?.message ?? 'invalid value'}`);
  }
  const e = parsed.data;
  const apiUrl = checkSecureUrl(e.DRIO_API_URL ?? DEFAULT_API_URL, 'DRIO_API_URL');
  const noBrowser = e.DRIO_MCP_NO_BROWSER !== undefined && !['0', 'false', 'no'].includes(e.DRIO_MCP_NO_BROWSER.toLowerCase());
  return Object.freeze({
    apiUrl: apiUrl.origin + apiUrl.pathname.replace(/\/+$/, ''),
    // env-paths honours XDG_CONFIG_HOME on Linux, ~/Library/Preferences on macOS, %APPDATA% on Windows.
    configDir: e.DRIO_MCP_CONFIG_DIR ?? envPaths('drio-mcp', { suffix: '' }).config,
    callbackPort: e.DRIO_MCP_CALLBACK_PORT,
    logLevel: e.DRIO_MCP_LOG_LEVEL ?? 'info',
    loginWaitMs: (e.DRIO_MCP_LOGIN_WAIT_SECONDS ?? 45) * 1000,
    loginTimeoutMs: (e.DRIO_MCP_LOGIN_TIMEOUT_SECONDS ?? 300) * 1000,
    requestTimeoutMs: (e.DRIO_MCP_REQUEST_TIMEOUT_SECONDS ?? 30) * 1000,
    openBrowser: !noBrowser,
    version: VERSION,
  });
}
