// Shared test plumbing for the auth layer: configs pointing at a sandbox, a fresh config dir per test, and capture of
// everything the auth layer writes (stderr lines, log records, error messages) for leak scans.
import { createLogger, type Logger } from '../../src/log.js';

// One definition of test configs and temp dirs for the whole suite.
export { tempDir, testConfig } from '../helpers/config.js';

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
