/** Configs and directories for tests: no environment involved. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config.js';

/** A Config pointing at `apiUrl` with its own credentials dir. */
export function testConfig(apiUrl: string, configDir: string, overrides: Partial<Config> = {}): Config {
  return Object.freeze({
    apiUrl,
    configDir,
    callbackPort: undefined,
    logLevel: 'debug' as const,
    loginWaitMs: 10_000,
    loginTimeoutMs: 20_000,
    requestTimeoutMs: 5_000,
    openBrowser: true,
    version: '0.0.0-test',
    ...overrides,
  });
}

/** A fresh temp dir and its cleanup. */
export async function tempDir(prefix = 'drio-mcp-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Fails the test if any issued secret appears in `text`. Returns the text for chaining. */
export function leakedSecrets(secrets: readonly string[], text: string): string[] {
  return secrets.filter((s) => s.length >= 8 && text.includes(s));
}
