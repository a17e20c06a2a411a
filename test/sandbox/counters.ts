import type { Counters } from './types.js';

export function createCounters(): Counters {
  return { requests: {}, grants: {}, invalidGrant: 0, registrations: 0, authorizations: 0, revocations: 0 };
}

/** Reset in place so that references held by tests stay live. */
export function resetCounters(c: Counters): void {
  for (const k of Object.keys(c.requests)) delete c.requests[k];
  for (const k of Object.keys(c.grants)) delete c.grants[k];
  c.invalidGrant = 0;
  c.registrations = 0;
  c.authorizations = 0;
  c.revocations = 0;
}

export function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}
