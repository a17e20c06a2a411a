/** Public types of the drio sandbox (see CONTRACT.md). */

export interface SandboxOptions {
  accessTokenTtl?: number; // seconds, default 3600
  authPort?: number; // default 0 (random)
  apiPort?: number; // default 0 (random)
  host?: '127.0.0.1'; // always loopback
}

export type Failure =
  | { kind: 'status'; status: number; code?: string; message?: string; retryAfter?: number; times?: number }
  | { kind: 'malformed'; times?: number } // 200 with a broken JSON body
  | { kind: 'delay'; ms: number; times?: number } // stall before answering normally
  | { kind: 'drop'; times?: number } // destroy the socket (connection reset)
  | { kind: 'json'; body: unknown; status?: number; times?: number }; // answer with this JSON instead (default 200)

export interface Counters {
  requests: Record<string, number>;
  grants: Record<string, number>;
  invalidGrant: number;
  registrations: number;
  authorizations: number;
  revocations: number;
}

export interface LoginResult {
  status: number;
  body: string;
  callbackUrl: string;
}

export interface Sandbox {
  apiUrl: string;
  issuer: string;
  user: { id: string; email: string; name: string };
  counters: Counters;
  resetCounters(): void;
  setAccessTokenTtl(seconds: number): void;
  fail(routeKey: string, failure: Failure): void;
  clearFailures(): void;
  revokeAllGrants(): Promise<void>;
  issuedSecrets(): string[];
  completeLogin(authorizationUrl: string, opts?: { deny?: boolean; username?: string }): Promise<LoginResult>;
  close(): Promise<void>;
}

/** The one test account. */
export const TEST_USER = { id: 'user_ada', email: 'ada@example.com', name: 'Ada Lovelace', username: 'ada' } as const;

export const SCOPES = ['openid', 'profile', 'email'] as const;
