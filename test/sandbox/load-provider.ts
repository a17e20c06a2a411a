import type * as OidcProvider from 'oidc-provider';

type OidcModule = typeof OidcProvider;
let loaded: Promise<OidcModule> | undefined;

/** Import oidc-provider once, muting its "Unsupported runtime" warning on Node 20 (harmless here). */
export function loadOidcProvider(): Promise<OidcModule> {
  loaded ??= (async () => {
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
      original(...args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = original;
    }
  })();
  return loaded;
}
