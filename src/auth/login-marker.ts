import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { AuthError, DRIO_MCP_ERROR_CODES, type DrioMcpErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { CredentialStore, StoredTokens } from './store.js';

/*
 * One browser sign-in per drio base URL per machine, however many drio-mcp processes need it: the process that runs
 * the flow holds `login-<key>.json` (same key as the credentials file), the others follow it through the store.
 * Created with 'wx' and replaced only under the store's lock, so two processes never both own a flow.
 */

/** How long a failed flow's outcome stays readable before the marker is removed: several follower polls. */
const OUTCOME_LINGER_MS = 2_000;

const LoginMarkerSchema = z.object({
  version: z.literal(1),
  pid: z.number().int().positive(),
  host: z.string(),
  /** Random per claim: tells a marker from its successor, and this process's claims from a reused pid. */
  id: z.string().min(1),
  startedAt: z.iso.datetime(),
  /** Past this, the flow is over even if its process lives on (hung): another process may take over. */
  expiresAt: z.iso.datetime(),
  /** The sign-in URL, once the owner has built it. */
  url: z.string().optional(),
  endedAt: z.iso.datetime().optional(),
  /** Why a flow ended without tokens (the owner's error), for its followers to report. */
  outcome: z.object({ code: z.enum(DRIO_MCP_ERROR_CODES), message: z.string() }).optional(),
});

/** The contents of a login marker. */
export type LoginMarker = z.infer<typeof LoginMarkerSchema>;

/** How a flow that yielded no tokens ended: the owner's error code and message (never a token). */
export interface LoginOutcome {
  code: DrioMcpErrorCode;
  message: string;
}

/** This process's own live claims: a marker with our pid but another id was left by an earlier holder of the pid. */
const ownClaims = new Set<string>();

/** A claimed marker: this process runs the browser flow until it calls `release`. */
export interface LoginClaim {
  readonly marker: LoginMarker;
  /** Publishes the sign-in URL for followers and moves the expiry (the listener's timeout starts only now). */
  publish(url: string, expiresAtMs: number): Promise<void>;
  /**
   * Ends the claim. Without an outcome (signed in, or cancelled: followers should take over) the marker is removed
   * now; with one it is marked ended and removed a little later, so followers can report why.
   */
  release(outcome?: LoginOutcome): Promise<void>;
}

export type ClaimResult =
  | { kind: 'claimed'; claim: LoginClaim }
  /** A live flow runs elsewhere: follow it. */
  | { kind: 'busy'; marker: LoginMarker }
  /** The store already holds tokens the caller accepts (a flow finished just before): no flow needed. */
  | { kind: 'signed-in'; tokens: StoredTokens };

export interface ClaimOptions {
  logger: Logger;
  now: () => number;
  /** Initial expiry, from now: long enough for discovery, registration and the whole flow. */
  ttlMs: number;
  /** Tokens in the store that make a new flow pointless, or undefined. */
  accept: (tokens: StoredTokens | undefined) => StoredTokens | undefined;
}

/**
 * Claims the sign-in for this process, or reports the live flow of another one. Runs under the store's lock, so a
 * stale marker (expired, ended, its process gone, unparsable) is taken over by exactly one of the processes that find it.
 */
export async function claimLogin(store: CredentialStore, options: ClaimOptions): Promise<ClaimResult> {
  const { logger, now } = options;
  return store.withLock(async (): Promise<ClaimResult> => {
    const tokens = options.accept((await store.read()).tokens);
    if (tokens) return { kind: 'signed-in', tokens };
    const existing = await readLoginMarker(store);
    if (existing && isLive(existing, now())) return { kind: 'busy', marker: existing };
    if (existing) logger.debug(`Taking over the sign-in marker of drio-mcp process ${existing.pid} (${existing.endedAt ? 'ended' : 'stale'}).`);
    // Ended, stale, unparsable or absent: only claimers holding the lock create markers, so this removes no live one.
    await rm(store.loginMarkerPath, { force: true });
    const startedAt = now();
    const marker: LoginMarker = {
      version: 1,
      pid: process.pid,
      host: hostname(),
      id: randomUUID(),
      startedAt: new Date(startedAt).toISOString(),
      expiresAt: new Date(startedAt + options.ttlMs).toISOString(),
    };
    try {
      // 'wx' as well as the lock: should anything ever create the marker without the lock, one of the two still fails.
      await writeFile(store.loginMarkerPath, `${JSON.stringify(marker, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    } catch (cause) {
      const winner = (cause as NodeJS.ErrnoException).code === 'EEXIST' ? await readLoginMarker(store) : undefined;
      if (winner) return { kind: 'busy', marker: winner };
      throw new AuthError('ERR_AUTH_STORE', `Cannot create the sign-in marker ${store.loginMarkerPath}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    }
    ownClaims.add(marker.id);
    return { kind: 'claimed', claim: claimOf(store, marker, logger, now) };
  });
}

/** The marker now in the store, if any and parsable (live or not). */
export async function readLoginMarker(store: CredentialStore): Promise<LoginMarker | undefined> {
  return parseMarker(await store.readJson(store.loginMarkerPath));
}

/** True while the marker's flow may still yield tokens: not ended, not expired, and its process is running. */
export function isLive(marker: LoginMarker, nowMs: number): boolean {
  if (marker.endedAt !== undefined || nowMs >= Date.parse(marker.expiresAt)) return false;
  if (marker.host !== hostname()) return true; // A shared config dir on another machine: only the expiry tells.
  if (marker.pid === process.pid) return ownClaims.has(marker.id);
  try {
    process.kill(marker.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseMarker(json: unknown): LoginMarker | undefined {
  const parsed = LoginMarkerSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

function claimOf(store: CredentialStore, marker: LoginMarker, logger: Logger, now: () => number): LoginClaim {
  let released = false;
  /** Runs `fn` on the marker if it is still ours, under the store's lock. Never throws: the flow matters more. */
  const onOwnMarker = async (what: string, fn: (current: LoginMarker) => Promise<void>): Promise<void> => {
    try {
      await store.withLock(async () => {
        const current = await readLoginMarker(store);
        if (current?.id === marker.id) await fn(current);
      });
    } catch (err) {
      logger.debug(`Could not ${what} the sign-in marker: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return {
    marker,
    publish: (url, expiresAtMs) =>
      onOwnMarker('update', async (current) => {
        if (released) return;
        await store.writeJson(store.loginMarkerPath, { ...current, url, expiresAt: new Date(expiresAtMs).toISOString() });
      }),
    async release(outcome) {
      if (released) return;
      released = true;
      if (outcome === undefined) {
        await onOwnMarker('remove', () => rm(store.loginMarkerPath, { force: true }));
        ownClaims.delete(marker.id);
        return;
      }
      await onOwnMarker('end', (current) => store.writeJson(store.loginMarkerPath, { ...current, endedAt: new Date(now()).toISOString(), outcome }));
      ownClaims.delete(marker.id);
      // Unref'd: a process that exits first leaves the ended marker, which is never live and is replaced by the next claim.
      setTimeout(() => void onOwnMarker('remove', () => rm(store.loginMarkerPath, { force: true })), OUTCOME_LINGER_MS).unref();
    },
  };
}
