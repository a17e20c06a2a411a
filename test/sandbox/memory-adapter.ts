/** A tiny in-memory oidc-provider adapter whose storage can be enumerated (for revokeAllGrants). */

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: unknown };

interface Stored {
  model: string;
  payload: Payload;
  expiresAt: number | undefined; // ms epoch
}

export interface AdapterStore {
  entries: Map<string, Stored>; // key: `${model}:${id}`
  AdapterClass: new (model: string) => unknown;
  /** Drop every grant-bound artefact (grants, codes, refresh/access tokens) and every session. */
  revokeAll(): void;
  /** Called for every upsert, so secrets can be recorded. */
  onUpsert?: (model: string, id: string, payload: Payload) => void;
}

const REVOCABLE = new Set([
  'Grant',
  'Session',
  'AuthorizationCode',
  'RefreshToken',
  'AccessToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

export function createAdapterStore(): AdapterStore {
  const entries = new Map<string, Stored>();

  const live = (key: string): Stored | undefined => {
    const e = entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };

  const store: AdapterStore = {
    entries,
    AdapterClass: class MemoryAdapter {
      readonly model: string;
      constructor(model: string) {
        this.model = model;
      }
      #key(id: string): string {
        return `${this.model}:${id}`;
      }
      async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
        entries.set(this.#key(id), {
          model: this.model,
          payload: structuredClone(payload),
          expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
        });
        store.onUpsert?.(this.model, id, payload);
      }
      async find(id: string): Promise<Payload | undefined> {
        const e = live(this.#key(id));
        return e ? structuredClone(e.payload) : undefined;
      }
      async findByUid(uid: string): Promise<Payload | undefined> {
        for (const [key, e] of entries) {
          if (e.model === this.model && e.payload.uid === uid && live(key)) return structuredClone(e.payload);
        }
        return undefined;
      }
      async findByUserCode(userCode: string): Promise<Payload | undefined> {
        for (const [key, e] of entries) {
          if (e.model === this.model && e.payload.userCode === userCode && live(key)) return structuredClone(e.payload);
        }
        return undefined;
      }
      async consume(id: string): Promise<void> {
        const e = live(this.#key(id));
        if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
      }
      async destroy(id: string): Promise<void> {
        entries.delete(this.#key(id));
      }
      async revokeByGrantId(grantId: string): Promise<void> {
        for (const [key, e] of entries) {
          if (e.payload.grantId === grantId) entries.delete(key);
        }
      }
    },
    revokeAll(): void {
      for (const [key, e] of entries) {
        if (REVOCABLE.has(e.model)) entries.delete(key);
      }
    },
  };
  return store;
}
