import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { environmentKey, openCredentialStore, type CredentialFile } from '../../src/auth/store.js';
import { capture, tempDir, type Capture } from './helpers.js';

const API = 'http://127.0.0.1:9/drio';
const sample: CredentialFile = {
  version: 1,
  api_url: API,
  client: { issuer: 'http://127.0.0.1:8', client_id: 'client-1', redirect_uri: 'http://127.0.0.1:4000/callback', registered_at: '2026-01-01T00:00:00.000Z' },
  tokens: {
    access_token: 'at-123456',
    token_type: 'bearer',
    expires_at: 2_000_000_000,
    obtained_at: 1_999_996_400,
    refresh_token: 'rt-123456',
    scope: 'openid profile email',
    issuer: 'http://127.0.0.1:8',
    client_id: 'client-1',
  },
};

let dir: string;
let cleanup: () => Promise<void>;
let c: Capture;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  c = capture();
});
afterEach(async () => cleanup());

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('credential store', () => {
  it('creates the config dir 0700 and writes the file 0600, atomically (no temp files left)', async () => {
    const configDir = path.join(dir, 'nested', 'drio-mcp');
    const store = openCredentialStore(configDir, API, { logger: c.logger });
    await store.write(sample);
    expect(await mode(configDir)).toBe(0o700);
    expect(await mode(store.path)).toBe(0o600);
    expect(await readdir(configDir)).toEqual([path.basename(store.path)]);
    expect(await store.read()).toEqual(sample);
  });

  it('tightens an existing, too-open config dir to 0700', async () => {
    const configDir = path.join(dir, 'open');
    await mkdir(configDir, { mode: 0o755 });
    await chmod(configDir, 0o755);
    const store = openCredentialStore(configDir, API, { logger: c.logger });
    await store.write(sample);
    expect(await mode(configDir)).toBe(0o700);
  });

  it('keys files by drio base URL so environments coexist', async () => {
    const a = openCredentialStore(dir, API, { logger: c.logger });
    const b = openCredentialStore(dir, 'https://getdrio.com', { logger: c.logger });
    expect(a.path).not.toBe(b.path);
    expect(path.basename(a.path)).toBe(`credentials-${environmentKey(API)}.json`);
    await a.write(sample);
    expect((await b.read()).tokens).toBeUndefined();
    expect((await a.read()).tokens?.access_token).toBe('at-123456');
  });

  it('does no I/O when opened', async () => {
    openCredentialStore(path.join(dir, 'never'), API, { logger: c.logger });
    expect(await readdir(dir)).toEqual([]);
  });

  it('reads a missing file as signed out, silently', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger });
    expect(await store.read()).toEqual({ version: 1, api_url: API });
    expect(c.lines).toEqual([]);
  });

  it('treats a corrupt file as signed out with a clear warning, never a crash', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger });
    await writeFile(store.path, '{"version":1,"api_url":', { mode: 0o600 });
    expect(await store.read()).toEqual({ version: 1, api_url: API });
    expect(c.text()).toMatch(/\[warn\].*not valid JSON; treating this as signed out/);
  });

  it('treats a file of the wrong shape as signed out with a warning', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger });
    await writeFile(store.path, JSON.stringify({ version: 1, api_url: API, tokens: { access_token: 42 } }));
    expect((await store.read()).tokens).toBeUndefined();
    expect(c.text()).toMatch(/unexpected shape; treating this as signed out/);
  });

  it('ignores a file that belongs to another drio base URL', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger });
    await writeFile(store.path, JSON.stringify({ ...sample, api_url: 'https://other.example' }));
    expect((await store.read()).tokens).toBeUndefined();
    expect(c.text()).toMatch(/belongs to https:\/\/other\.example/);
  });

  it('treats an unreadable path (a directory) as signed out with a warning', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger });
    await mkdir(store.path);
    expect((await store.read()).tokens).toBeUndefined();
    expect(c.text()).toMatch(/Cannot read the drio-mcp credentials file .*EISDIR/);
  });

  it('reports an unwritable config dir as ERR_AUTH_STORE', async () => {
    const blocker = path.join(dir, 'file');
    await writeFile(blocker, 'x');
    const store = openCredentialStore(path.join(blocker, 'sub'), API, { logger: c.logger });
    await expect(store.write(sample)).rejects.toMatchObject({ code: 'ERR_AUTH_STORE' });
  });

  it('serialises critical sections across store instances with the lock', async () => {
    const s1 = openCredentialStore(dir, API, { logger: c.logger });
    const s2 = openCredentialStore(dir, API, { logger: c.logger });
    const events: string[] = [];
    const section = (name: string) => async () => {
      events.push(`${name}:in`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`${name}:out`);
    };
    await Promise.all([s1.withLock(section('a')), s2.withLock(section('b'))]);
    expect([events.slice(0, 2), events.slice(2)]).toEqual(
      events[0] === 'a:in' ? [['a:in', 'a:out'], ['b:in', 'b:out']] : [['b:in', 'b:out'], ['a:in', 'a:out']],
    );
    // The lock directory is gone afterwards.
    expect((await readdir(dir)).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('breaks a stale lock left by a crashed process', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger, lockStaleMs: 2000 });
    const lockDir = store.path.replace(/\.json$/, '.lock');
    await mkdir(lockDir);
    const old = new Date(Date.now() - 60_000);
    const { utimes } = await import('node:fs/promises');
    await utimes(lockDir, old, old);
    const started = Date.now();
    expect(await store.withLock(async () => 'got it')).toBe('got it');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('writes side files (discovery cache) 0600 too', async () => {
    const store = openCredentialStore(dir, API, { logger: c.logger });
    await store.writeJson(store.discoveryCachePath, { a: 1 });
    expect(await mode(store.discoveryCachePath)).toBe(0o600);
    expect(await store.readJson(store.discoveryCachePath)).toEqual({ a: 1 });
    expect(JSON.parse(await readFile(store.discoveryCachePath, 'utf8'))).toEqual({ a: 1 });
  });
});
