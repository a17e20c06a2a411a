// The login marker from inside one process, against the sandbox: what a session does when another drio-mcp process
// holds the sign-in (follow it through the store, no listener, no browser, no presenter), when the marker is stale
// (take over), and what the owner writes and removes. The cross-process races are in multiprocess-login.test.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSession, runAuthCommand, type DrioAuthSession } from '../../src/auth/index.js';
import { readLoginMarker, type LoginMarker } from '../../src/auth/login-marker.js';
import { openCredentialStore } from '../../src/auth/store.js';
import type { Config } from '../../src/config.js';
import { LoginPendingError } from '../../src/errors.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { capture, tempDir, testConfig, type Capture } from './helpers.js';

let sb: Sandbox;
/** A process that stays alive: the "other drio-mcp" holding a marker. */
let other: ChildProcess;
/** A credentials file signed in elsewhere: copying it in is what the other process's finished sign-in looks like. */
let signedInFile: string;
let root: string;
let rootCleanup: () => Promise<void>;
let dir: string;
let cleanup: () => Promise<void>;
const sessions: DrioAuthSession[] = [];
const captures: Capture[] = [];

beforeAll(async () => {
  sb = await startSandbox();
  other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  ({ dir: root, cleanup: rootCleanup } = await tempDir());
  const elsewhere = path.join(root, 'elsewhere');
  const h = harness({}, elsewhere);
  await h.session.getAccessToken();
  signedInFile = h.session.store.path;
});
afterAll(async () => {
  other?.kill();
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await sb?.close();
  await rootCleanup?.();
});
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  sb.clearFailures();
  sb.resetCounters();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await cleanup();
});

interface Harness {
  session: DrioAuthSession;
  out: Capture;
  opened: string[];
  presented: string[];
}

function harness(overrides: Partial<Config> = {}, configDir = dir, browser: (url: string) => Promise<unknown> = (u) => sb.completeLogin(u)): Harness {
  const out = capture();
  const opened: string[] = [];
  const presented: string[] = [];
  const session = createSession(testConfig(sb.apiUrl, configDir, overrides), {
    logger: out.logger,
    stderr: out.stderr,
    presentLoginUrl: async (url, openBrowser) => {
      presented.push(url);
      await openBrowser();
    },
    openUrl: async (url) => {
      opened.push(url);
      await browser(url);
    },
  });
  sessions.push(session);
  captures.push(out);
  return { session, out, opened, presented };
}

const markerPath = (configDir = dir) => openCredentialStore(configDir, sb.apiUrl, { logger: capture().logger }).loginMarkerPath;

/** Writes a marker as another process would; defaults: held by the live `other` process, unexpired, with a URL. */
async function writeMarker(fields: Partial<LoginMarker> = {}): Promise<LoginMarker> {
  const now = Date.now();
  const marker: LoginMarker = {
    version: 1,
    pid: other.pid!,
    host: hostname(),
    id: `other-${now}`,
    startedAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 60_000).toISOString(),
    url: `${sb.issuer}/auth?client_id=other-process&state=theirs`,
    ...fields,
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(markerPath(), JSON.stringify(marker), { mode: 0o600 });
  return marker;
}

const followerLines = (h: Harness) => h.out.lines.filter((l) => l.includes('is already signing in to drio (one browser tab for all)'));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('another process holds the sign-in', () => {
  it('`drio-mcp status` shows the sign-in waiting in another process, with its URL', async () => {
    const marker = await writeMarker();
    const out: string[] = [];
    const code = await runAuthCommand('status', testConfig(sb.apiUrl, dir), { out: (t) => void out.push(t), err: (t) => void out.push(t) });
    expect(code).toBe(1); // not signed in yet
    expect(out.join('')).toContain(`Signing in:  waiting for the browser since ${marker.startedAt}: ${marker.url}`);
  });

  it('follows it: no browser, no presenter, no discovery; its URL on stderr once, in LoginPendingError and in status; done when its tokens land', async () => {
    const marker = await writeMarker();
    const h = harness();
    const err = await h.session.getAccessToken({ waitForLoginMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginPendingError);
    expect((err as LoginPendingError).url).toBe(marker.url);
    expect(await h.session.status()).toMatchObject({ signedIn: false, loginInProgress: { url: marker.url, startedAt: marker.startedAt } });
    const waiting = h.session.getAccessToken();
    await tick(300);
    await copyFile(signedInFile, h.session.store.path); // the other process's sign-in completes
    const token = await waiting;
    expect(token).toEqual(expect.any(String));
    expect(h.opened).toEqual([]);
    expect(h.presented).toEqual([]);
    expect(followerLines(h)).toHaveLength(1);
    expect(followerLines(h)[0]).toContain(`drio-mcp process ${other.pid} `);
    expect(followerLines(h)[0]).toContain(marker.url);
    expect(h.out.lines.filter((l) => l.includes('by opening this URL'))).toEqual([]);
    expect(sb.counters.requests).toEqual({}); // not even discovery: the owner does all the talking
    expect(sb.counters.registrations).toBe(0);
    // Warm from memory now; the other process's marker is left alone.
    expect(await h.session.getAccessToken()).toBe(token);
    expect(await readLoginMarker(h.session.store)).toMatchObject({ id: marker.id });
  });

  it('a marker without a URL yet: waits for the URL (bounded) and reports it', async () => {
    const marker = await writeMarker({ url: undefined });
    const h = harness();
    setTimeout(() => void writeMarker({ ...marker, url: `${sb.issuer}/auth?client_id=other-process&state=later` }), 400);
    const err = await h.session.getAccessToken({ waitForLoginMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginPendingError);
    expect((err as LoginPendingError).url).toContain('state=later');
    expect(h.opened).toEqual([]);
  });

  it('its flow is denied: the follower rejects with ERR_AUTH_DENIED naming that process (no tab, no timeout); the next call starts one new flow', async () => {
    const marker = await writeMarker();
    const h = harness({ loginTimeoutMs: 20_000 });
    const started = Date.now();
    const pending = h.session.getAccessToken().catch((e: unknown) => e);
    await tick(300);
    await writeMarker({ ...marker, endedAt: new Date().toISOString(), outcome: { code: 'ERR_AUTH_DENIED', message: 'Sign-in to drio was cancelled or denied in the browser.' } });
    const err = await pending;
    expect(err).toMatchObject({ code: 'ERR_AUTH_DENIED', message: expect.stringContaining(`drio-mcp process ${other.pid} ran this sign-in`) });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(h.opened).toEqual([]);
    // An ended marker is never live: asking again runs this process's own flow.
    const token = await h.session.getAccessToken();
    expect(token).toEqual(expect.any(String));
    expect(h.opened).toHaveLength(1);
    expect(sb.counters.authorizations).toBe(1);
  });

  it('its process cancels or closes (marker removed, no tokens): exactly one follower takes over with its own flow', async () => {
    await writeMarker();
    const a = harness();
    const b = harness(); // same process, same store: the second session follows the first's flow after the takeover
    const calls = [a.session.getAccessToken(), b.session.getAccessToken(), a.session.getAccessToken()];
    await tick(300);
    await rm(markerPath());
    const tokens = await Promise.all(calls);
    expect(new Set(tokens).size).toBe(1);
    expect(a.opened.length + b.opened.length).toBe(1);
    expect(a.presented.length + b.presented.length).toBe(1);
    expect(sb.counters.authorizations).toBe(1);
  });

  it('close() while following rejects the waiting call at once and leaves the other process\u2019s marker alone', async () => {
    const marker = await writeMarker();
    const h = harness();
    const pending = h.session.getAccessToken().catch((e: unknown) => e);
    await tick(100);
    await h.session.close();
    expect(await pending).toMatchObject({ code: 'ERR_AUTH_LOGIN_ABORTED' });
    expect(await readLoginMarker(h.session.store)).toEqual(marker);
  });
});

describe('stale markers are taken over', () => {
  const dead = () => {
    const child = spawnSync(process.execPath, ['-e', '']);
    return child.pid;
  };
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['its process is gone', () => writeMarker({ pid: dead() })],
    ['it expired (its process hung)', () => writeMarker({ expiresAt: new Date(Date.now() - 1000).toISOString() })],
    ['this pid, but not a claim of this process (pid reused, e.g. PID 1 in containers)', () => writeMarker({ pid: process.pid })],
    ['it ended (a failed flow, its outcome read)', () => writeMarker({ endedAt: new Date().toISOString(), outcome: { code: 'ERR_AUTH_LOGIN_TIMEOUT', message: 'timed out' } })],
    ['it is not JSON', () => writeFile(markerPath(), '{ half a marker', { mode: 0o600 })],
  ];
  for (const [name, make] of cases) {
    it(`when ${name}: one browser tab, signed in`, async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await make();
      const h = harness();
      const token = await h.session.getAccessToken();
      expect(token).toEqual(expect.any(String));
      expect(h.opened).toHaveLength(1);
      expect(followerLines(h)).toEqual([]);
      expect(await readLoginMarker(h.session.store)).toBeUndefined();
    });
  }
});

describe('the owner', () => {
  it('holds a 0600 marker with its pid and URL while the browser is out, and removes it when signed in', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = harness({}, dir, async (url) => {
      await gate;
      await sb.completeLogin(url);
    });
    const pending = h.session.getAccessToken();
    let marker: LoginMarker | undefined;
    for (let i = 0; i < 100 && !(marker = await readLoginMarker(h.session.store))?.url; i += 1) await tick(20);
    expect(marker).toMatchObject({ pid: process.pid, url: h.presented[0] });
    expect(Date.parse(marker!.expiresAt)).toBeGreaterThan(Date.now() + 15_000); // loginTimeout (20 s) + request timeout
    expect((await stat(markerPath())).mode & 0o777).toBe(0o600);
    release();
    await pending;
    expect(await readLoginMarker(h.session.store)).toBeUndefined();
  });

  it('a timed-out flow leaves its outcome for followers for a moment, then removes the marker', async () => {
    const h = harness({ loginTimeoutMs: 300 }, dir, async () => undefined);
    const err = await h.session.getAccessToken().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_AUTH_LOGIN_TIMEOUT' });
    expect(await readLoginMarker(h.session.store)).toMatchObject({ endedAt: expect.any(String), outcome: { code: 'ERR_AUTH_LOGIN_TIMEOUT' } });
    await tick(2_300);
    expect(await readLoginMarker(h.session.store)).toBeUndefined();
  });

  it('close() while waiting for the browser removes the marker at once, so followers take over', async () => {
    const h = harness({}, dir, async () => undefined);
    const pending = h.session.getAccessToken().catch((e: unknown) => e);
    for (let i = 0; i < 100 && !(await readLoginMarker(h.session.store))?.url; i += 1) await tick(20);
    await h.session.close();
    expect(await pending).toMatchObject({ code: 'ERR_AUTH_LOGIN_ABORTED' });
    await expect(readFile(markerPath(), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

describe('secrets', () => {
  it('no issued token or code appears in anything the sessions wrote', () => {
    const secrets = sb.issuedSecrets();
    const everything = captures.map((c) => c.text()).join('\n');
    expect(secrets.length).toBeGreaterThan(3);
    expect(everything.length).toBeGreaterThan(500);
    expect(secrets.filter((s) => everything.includes(s))).toEqual([]);
  });
});
