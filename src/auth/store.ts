import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { AuthError } from '../errors.js';
import type { Logger } from '../log.js';

/*
 * Layout (one environment = one drio base URL, so several coexist without sharing a lock):
 *   <configDir>/                          0700
 *     credentials-<sha256(apiUrl)[:16]>.json   0600  client registration + tokens (this file)
 *     credentials-<...>.lock/                   proper-lockfile's lock directory (refresh/login/logout)
 *     discovery-<...>.json                      0600  cached OAuth metadata (not secret, but kept private too)
 */

const ClientRegistrationSchema = z.object({
  issuer: z.string().min(1),
  client_id: z.string().min(1),
  redirect_uri: z.string().min(1),
  registered_at: z.string().min(1),
});

const AccountSchema = z.object({
  sub: z.string().optional(),
  email: z.string().optional(),
  name: z.string().optional(),
});

const StoredTokensSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().min(1),
  /** Epoch seconds; absent when the server did not say (then valid until drio answers 401). */
  expires_at: z.number().int().optional(),
  /** Epoch seconds when the token was issued to us: bounds the early-refresh margin for short-lived tokens. */
  obtained_at: z.number().int(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
  issuer: z.string().min(1),
  /** The client the tokens were issued to: refresh must use it even if a new registration was made since. */
  client_id: z.string().min(1),
  account: AccountSchema.optional(),
});

const CredentialFileSchema = z.object({
  version: z.literal(1),
  api_url: z.string().min(1),
  client: ClientRegistrationSchema.optional(),
  tokens: StoredTokensSchema.optional(),
});

/** A dynamic client registration, tied to the issuer and redirect URI it was made for. */
export type ClientRegistration = z.infer<typeof ClientRegistrationSchema>;
/** Tokens as persisted: `expires_at` (not `expires_in`) so they survive restarts. */
export type StoredTokens = z.infer<typeof StoredTokensSchema>;
/** Everything stored for one drio base URL. */
export type CredentialFile = z.infer<typeof CredentialFileSchema>;

/** Where and how credentials for one drio base URL live on disk. */
export interface CredentialStore {
  readonly dir: string;
  readonly path: string;
  readonly discoveryCachePath: string;
  /** The marker of a browser sign-in under way in some process (see login-marker.ts). */
  readonly loginMarkerPath: string;
  /** Reads and schema-checks the file; missing, unreadable or corrupt means "nothing stored" (with a warning). */
  read(): Promise<CredentialFile>;
  /** Atomically replaces the file (0600). Callers that read-modify-write hold `withLock`. */
  write(data: CredentialFile): Promise<void>;
  /** Runs `fn` holding the cross-process lock for this environment. */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Deletes the temp files of writes a killed process cut short (they hold tokens too). Callers hold `withLock`. */
  removeLeftoverTempFiles(): Promise<void>;
  /** Reads a JSON side file (e.g. the discovery cache); undefined when missing or unparsable. */
  readJson(file: string): Promise<unknown>;
  writeJson(file: string, value: unknown): Promise<void>;
}

export interface CredentialStoreOptions {
  logger: Logger;
  /** proper-lockfile tuning; tests shorten it. */
  lockStaleMs?: number;
}

/** A short stable key for a drio base URL, used in file names. */
export function environmentKey(apiUrl: string): string {
  return createHash('sha256').update(apiUrl).digest('hex').slice(0, 16);
}

/** Opens (lazily: no I/O here) the credential store for `apiUrl` under `configDir`. */
export function openCredentialStore(configDir: string, apiUrl: string, options: CredentialStoreOptions): CredentialStore {
  const { logger } = options;
  const key = environmentKey(apiUrl);
  const dir = configDir;
  const file = path.join(dir, `credentials-${key}.json`);
  const lockPath = path.join(dir, `credentials-${key}.lock`);
  const discoveryCachePath = path.join(dir, `discovery-${key}.json`);
  const loginMarkerPath = path.join(dir, `login-${key}.json`);
  const staleMs = options.lockStaleMs ?? 15_000;
  let dirReady: Promise<void> | undefined;
  const empty = (): CredentialFile => ({ version: 1, api_url: apiUrl });

  const ensureDir = (): Promise<void> => {
    dirReady ??= (async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // mkdir's mode is ignored for an existing directory (and filtered by umask): tighten explicitly.
      await chmod(dir, 0o700);
    })().catch((cause: unknown) => {
      dirReady = undefined;
      throw new AuthError('ERR_AUTH_STORE', `Cannot create the drio-mcp config directory ${dir}: ${describe(cause)}`, { cause });
    });
    return dirReady;
  };

  const writeJson = async (target: string, value: unknown): Promise<void> => {
    await ensureDir();
    try {
      await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    } catch (cause) {
      throw new AuthError('ERR_AUTH_STORE', `Cannot write ${target}: ${describe(cause)}`, { cause });
    }
  };

  return {
    dir,
    path: file,
    discoveryCachePath,
    loginMarkerPath,

    async read() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return empty();
        logger.warn(`Cannot read the drio-mcp credentials file ${file} (${describe(cause)}); treating this as signed out.`);
        return empty();
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        logger.warn(`The drio-mcp credentials file ${file} is not valid JSON; treating this as signed out. Signing in again replaces it.`);
        return empty();
      }
      const parsed = CredentialFileSchema.safeParse(json);
      if (!parsed.success) {
        logger.warn(`The drio-mcp credentials file ${file} has an unexpected shape; treating this as signed out. Signing in again replaces it.`);
        return empty();
      }
      if (parsed.data.api_url !== apiUrl) {
        logger.warn(`The drio-mcp credentials file ${file} belongs to ${parsed.data.api_url}, not ${apiUrl}; ignoring it.`);
        return empty();
      }
      return parsed.data;
    },

    write: (data) => writeJson(file, data),

    async withLock(fn) {
      await ensureDir();
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(file, {
          realpath: false,
          lockfilePath: lockPath,
          stale: staleMs,
          update: Math.max(1000, Math.floor(staleMs / 3)),
          // ~30 s of patient, jittered retries: longer than a stale lock lives and than one refresh takes.
          retries: { retries: 80, factor: 1.3, minTimeout: 20, maxTimeout: 500, randomize: true },
          // The default throws from a timer, which would crash the process; a lost lock only risks one extra refresh.
          onCompromised: (err) => logger.warn(`The drio-mcp credentials lock was compromised (${err.message}); continuing.`),
        });
      } catch (cause) {
        throw new AuthError('ERR_AUTH_STORE', `Timed out waiting for the drio-mcp credentials lock ${lockPath}: ${describe(cause)}`, { cause });
      }
      try {
        return await fn();
      } finally {
        await release().catch((err: unknown) => logger.debug(`Releasing the credentials lock failed: ${describe(err)}`));
      }
    },

    async removeLeftoverTempFiles() {
      // write-file-atomic writes `<file>.<uint32>` and renames it over `<file>`; SIGKILL in between leaves it behind.
      const prefix = `${path.basename(file)}.`;
      const names = await readdir(dir).catch(() => [] as string[]);
      const leftovers = names.filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)));
      await Promise.all(leftovers.map((name) => rm(path.join(dir, name), { force: true })));
    },

    async readJson(target) {
      try {
        return JSON.parse(await readFile(target, 'utf8')) as unknown;
      } catch {
        return undefined;
      }
    },

    writeJson,
  };
}

function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}
