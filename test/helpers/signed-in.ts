/** A real auth session signed in to a sandbox (the sandbox's HTML login driven over HTTP). */
import { createSession, type DrioAuthSession } from '../../src/auth/index.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Sandbox } from '../sandbox/index.js';
import { tempDir, testConfig } from './config.js';

export interface SignedIn {
  session: DrioAuthSession;
  config: Config;
  /** Authorization URLs the "browser" was asked to open. */
  opens: string[];
  /** Everything the session wrote to "stderr". */
  stderr: string[];
  close(): Promise<void>;
}

/** A session for `sandbox` whose browser completes every login; `signIn` does the first login now. */
export async function signedInSession(sandbox: Sandbox, options: { signIn?: boolean; config?: Partial<Config> } = {}): Promise<SignedIn> {
  const { dir, cleanup } = await tempDir();
  const config = testConfig(sandbox.apiUrl, dir, options.config);
  const stderr: string[] = [];
  const opens: string[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => void stderr.push(l) });
  const session = createSession(config, {
    logger,
    stderr: (l) => void stderr.push(l),
    openUrl: async (url) => {
      opens.push(url);
      void sandbox.completeLogin(url).catch(() => {});
    },
  });
  if (options.signIn ?? true) await session.getAccessToken();
  return {
    session,
    config,
    opens,
    stderr,
    async close() {
      await session.close();
      await cleanup();
    },
  };
}
