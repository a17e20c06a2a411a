// Shared test plumbing for the auth layer: configs pointing at a sandbox, a fresh config dir per test, and capture of
// everything the auth layer writes (stderr lines, log records, error messages) for leak scans.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';

/** A Config for `apiUrl` with a throw-away config dir; no environment involved. */
export function testConfig(apiUrl: string, configDir: string, overrides: Partial<Config> = {}): Config {
  return Object.freeze({
    apiUrl,
    configDir,
    callbackPort: undefined,
    logLevel: 'debug' as const,
    loginWaitMs: 45_000,
    loginTimeoutMs: 20_000,
    requestTimeoutMs: 5_000,
    openBrowser: true,
    version: '0.0.0-test',
    ...overrides,
  });
}

/** A fresh temp dir (removed by the returned cleanup). */
export async function tempDir(prefix = 'drio-mcp-auth-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Everything written to "stderr" (sign-in URL lines and log lines at debug level). */
export interface Capture {
  lines: string[];
  logger: Logger;
  stderr: (line: string) => void;
  text(): string;
}

export function capture(): Capture {
  const lines: string[] = [];
  const write = (line: string) => void lines.push(line);
  return { lines, logger: createLogger({ level: 'debug', write }), stderr: write, text: () => lines.join('') };
}

/** The sign-in URL most recently written to stderr. */
export function lastLoginUrl(c: Capture): string | undefined {
  const line = [...c.lines].reverse().find((l) => l.includes('sign in to drio by opening this URL: '));
  return line?.split('opening this URL: ')[1]?.trim();
}

/** Error text worth scanning: message, cause chain messages. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth += 1) {
    if (e instanceof Error) {
      parts.push(`${e.name}: ${e.message}`);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}
