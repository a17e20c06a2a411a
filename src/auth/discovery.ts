import * as oauth from 'openid-client';
import { z } from 'zod';
import { checkSecureUrl, isLoopbackHost } from '../config.js';
import { AuthError, NetworkError, fetchFailureReason } from '../errors.js';
import type { Logger } from '../log.js';
import type { CredentialStore } from './store.js';

/** The authorization server metadata drio-mcp relies on (RFC 8414), validated. */
export interface AuthServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint: string;
  revocation_endpoint?: string;
  code_challenge_methods_supported: string[];
  scopes_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
  [key: string]: unknown;
}

/** What discovery found for one drio base URL. */
export interface DiscoveredMetadata {
  apiUrl: string;
  /** The RFC 9728 `resource`, when drio published protected-resource metadata. */
  resource?: string;
  metadata: AuthServerMetadata;
  /** Epoch ms when fetched; the cache expires `ttlMs` later. */
  fetchedAt: number;
}

/** Lazily discovers and caches (memory + disk) the authorization server for a drio base URL. */
export interface Discovery {
  /** Cached metadata when fresh, else fetched. `refresh: true` skips the caches. */
  get(options?: { refresh?: boolean }): Promise<DiscoveredMetadata>;
  /** Forgets the cached metadata (e.g. after an endpoint answered 404). */
  invalidate(): Promise<void>;
}

export interface DiscoveryOptions {
  apiUrl: string;
  store: Pick<CredentialStore, 'discoveryCachePath' | 'readJson' | 'writeJson'>;
  logger: Logger;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Cache lifetime; default one hour. */
  ttlMs?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 60 * 60 * 1000;

const ProtectedResourceSchema = z.object({
  resource: z.string().optional(),
  authorization_servers: z.array(z.string()).optional(),
});

const AuthServerSchema = z.looseObject({
  issuer: z.string().min(1),
  authorization_endpoint: z.string().min(1),
  token_endpoint: z.string().min(1),
  registration_endpoint: z.string().optional(),
  revocation_endpoint: z.string().optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
  scopes_supported: z.array(z.string()).optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});

const CacheSchema = z.object({
  apiUrl: z.string(),
  resource: z.string().optional(),
  fetchedAt: z.number(),
  metadata: AuthServerSchema,
});

/** Creates the discovery for `apiUrl`. Does no I/O until `get()` is called. */
export function createDiscovery(options: DiscoveryOptions): Discovery {
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const now = options.now ?? Date.now;
  let memory: DiscoveredMetadata | undefined;
  let inFlight: Promise<DiscoveredMetadata> | undefined;
  const fresh = (d: DiscoveredMetadata | undefined): d is DiscoveredMetadata =>
    d !== undefined && d.apiUrl === options.apiUrl && now() - d.fetchedAt < ttlMs && now() >= d.fetchedAt;

  const load = async (refresh: boolean): Promise<DiscoveredMetadata> => {
    if (!refresh) {
      const cached = CacheSchema.safeParse(await options.store.readJson(options.store.discoveryCachePath));
      if (cached.success) {
        try {
          const candidate = { ...cached.data, metadata: validateMetadata(cached.data.metadata) };
          if (fresh(candidate)) return candidate;
        } catch {
          // A cache that no longer validates is simply refetched.
        }
      }
    }
    const discovered = await discover(options.apiUrl, options.timeoutMs, options.logger);
    const result: DiscoveredMetadata = { ...discovered, apiUrl: options.apiUrl, fetchedAt: now() };
    await options.store.writeJson(options.store.discoveryCachePath, result).catch((err: unknown) => {
      options.logger.debug(`Could not cache drio's sign-in metadata: ${err instanceof Error ? err.message : String(err)}`);
    });
    return result;
  };

  return {
    async get(opts) {
      if (!opts?.refresh && fresh(memory)) return memory;
      inFlight ??= load(opts?.refresh ?? false).finally(() => {
        inFlight = undefined;
      });
      memory = await inFlight;
      return memory;
    },
    async invalidate() {
      memory = undefined;
      await options.store.writeJson(options.store.discoveryCachePath, {}).catch(() => undefined);
    },
  };
}

/**
 * Fetches drio's protected-resource metadata, then the authorization server metadata (from the drio host, falling
 * back to the issuer's own RFC 8414 or OpenID document), and validates it.
 */
export async function discover(
  apiUrl: string,
  timeoutMs: number,
  logger: Logger,
): Promise<{ resource?: string; metadata: AuthServerMetadata }> {
  const api = new URL(apiUrl);
  const prmUrl = wellKnown(api, 'oauth-protected-resource');
  const prm = await fetchJson(prmUrl, timeoutMs, { optional: true });
  let resource: string | undefined;
  let issuer: string | undefined;
  if (prm !== undefined) {
    const parsed = ProtectedResourceSchema.safeParse(prm);
    if (!parsed.success) throw discoveryError(`${prmUrl} is not valid protected-resource metadata.`);
    resource = parsed.data.resource;
    issuer = parsed.data.authorization_servers?.[0];
    if (issuer === undefined) throw discoveryError(`${prmUrl} names no authorization server.`);
    secureUrl(issuer, 'The authorization server drio advertises');
  }

  // drio serves the authorization server's metadata on its own host (the seed's step 1).
  const onDrioHost = await fetchJson(wellKnown(api, 'oauth-authorization-server'), timeoutMs, { optional: true });
  if (onDrioHost !== undefined) {
    const metadata = parseMetadata(onDrioHost, wellKnown(api, 'oauth-authorization-server'));
    if (issuer === undefined || sameIssuer(metadata.issuer, issuer)) return { resource, metadata: validateMetadata(metadata) };
    logger.debug(`drio's authorization-server metadata names issuer ${metadata.issuer}, its protected-resource metadata ${issuer}; asking the issuer.`);
  }
  if (issuer === undefined) {
    throw discoveryError(`${apiUrl} publishes neither protected-resource nor authorization-server metadata. Is DRIO_API_URL right?`);
  }

  // Fall back to the issuer's own documents: RFC 8414 first, then OpenID Connect Discovery.
  const iss = new URL(issuer);
  for (const candidate of [wellKnown(iss, 'oauth-authorization-server'), openIdConfiguration(iss)]) {
    const doc = await fetchJson(candidate, timeoutMs, { optional: true });
    if (doc === undefined) continue;
    const metadata = parseMetadata(doc, candidate);
    if (!sameIssuer(metadata.issuer, issuer)) {
      throw discoveryError(`${candidate} describes issuer ${metadata.issuer}, but drio advertises ${issuer}.`);
    }
    return { resource, metadata: validateMetadata(metadata) };
  }
  throw discoveryError(`The authorization server ${issuer} publishes no metadata (tried RFC 8414 and OpenID discovery).`);
}

/** Checks what drio-mcp requires: secure endpoints, PKCE S256, dynamic registration. */
function validateMetadata(raw: z.infer<typeof AuthServerSchema>): AuthServerMetadata {
  secureUrl(raw.issuer, 'The authorization server issuer');
  secureUrl(raw.authorization_endpoint, 'The authorization endpoint');
  secureUrl(raw.token_endpoint, 'The token endpoint');
  if (!raw.code_challenge_methods_supported?.includes('S256')) {
    throw discoveryError(
      `The authorization server ${raw.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported), which drio-mcp requires.`,
    );
  }
  if (raw.registration_endpoint === undefined) {
    throw discoveryError(`The authorization server ${raw.issuer} has no registration_endpoint; drio-mcp needs dynamic client registration.`);
  }
  secureUrl(raw.registration_endpoint, 'The registration endpoint');
  let revocation = raw.revocation_endpoint;
  if (revocation !== undefined) {
    try {
      secureUrl(revocation, 'The revocation endpoint');
    } catch {
      revocation = undefined; // Optional: an unusable one is ignored rather than fatal.
    }
  }
  return {
    ...raw,
    registration_endpoint: raw.registration_endpoint,
    revocation_endpoint: revocation,
    code_challenge_methods_supported: raw.code_challenge_methods_supported,
  };
}

/**
 * Builds the openid-client Configuration for a registered public client. Plain http is only enabled when the
 * (already validated) endpoints are loopback, i.e. the local sandbox.
 */
export function buildClientConfiguration(metadata: AuthServerMetadata, clientId: string, timeoutMs: number): oauth.Configuration {
  const config = new oauth.Configuration(metadata as oauth.ServerMetadata, clientId, undefined, oauth.None());
  config.timeout = Math.max(1, Math.ceil(timeoutMs / 1000));
  if (usesLoopbackHttp(metadata)) oauth.allowInsecureRequests(config);
  return config;
}

/** The scope drio-mcp asks for: drio's documented scopes, plus offline_access only where advertised. */
export function requestedScope(metadata: AuthServerMetadata): string {
  const scopes = ['openid', 'profile', 'email'];
  if (metadata.scopes_supported?.includes('offline_access')) scopes.push('offline_access');
  return scopes.join(' ');
}

function usesLoopbackHttp(metadata: AuthServerMetadata): boolean {
  return [metadata.issuer, metadata.authorization_endpoint, metadata.token_endpoint, metadata.registration_endpoint, metadata.revocation_endpoint]
    .filter((u): u is string => typeof u === 'string')
    .some((u) => {
      const url = new URL(u);
      return url.protocol === 'http:' && isLoopbackHost(url.hostname);
    });
}

function parseMetadata(doc: unknown, source: string): z.infer<typeof AuthServerSchema> {
  const parsed = AuthServerSchema.safeParse(doc);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw discoveryError(`${source} is not valid authorization server metadata (${first?.path.join('.') || 'document'}: ${first?.message ?? 'invalid'}).`);
  }
  return parsed.data;
}

/** RFC 8414 / RFC 9728 well-known URL: the suffix goes between the host and any path. */
function wellKnown(base: URL, suffix: string): string {
  const pathname = base.pathname.replace(/\/+$/, '');
  return `${base.origin}/.well-known/${suffix}${pathname === '' ? '' : pathname}`;
}

function openIdConfiguration(issuer: URL): string {
  return `${issuer.origin}${issuer.pathname.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

function secureUrl(raw: string, what: string): URL {
  try {
    return checkSecureUrl(raw, what);
  } catch (cause) {
    throw new AuthError('ERR_AUTH_DISCOVERY', cause instanceof Error ? cause.message : `${what} is not a secure URL.`, { cause });
  }
}

function discoveryError(message: string): AuthError {
  return new AuthError('ERR_AUTH_DISCOVERY', message);
}

/** GET a JSON document with a timeout. `optional`: 404/405/410 mean "not published" (undefined). */
async function fetchJson(url: string, timeoutMs: number, options: { optional: boolean }): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw toNetworkError(url, cause);
  }
  if (options.optional && (response.status === 404 || response.status === 405 || response.status === 410)) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw discoveryError(`${url} answered HTTP ${response.status}.`);
  }
  try {
    return (await response.json()) as unknown;
  } catch (cause) {
    throw new AuthError('ERR_AUTH_DISCOVERY', `${url} did not return JSON.`, { cause });
  }
}

/** Maps a fetch failure to NetworkError with a short, token-free reason. */
export function toNetworkError(url: string, cause: unknown): NetworkError {
  const timeout = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
  const reason = timeout ? 'timed out' : fetchFailureReason(cause);
  return new NetworkError(stripQuery(url), reason, { cause, timeout });
}

function stripQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url;
  }
}
