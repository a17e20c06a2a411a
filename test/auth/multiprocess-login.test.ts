// Several drio-mcp processes (Claude Desktop, Cursor, Claude Code...) sharing one store and all needing a sign-in at the
// same moment (first use, or every refresh token dead after a long sleep): one process runs the browser flow, the others
// follow it through the store. One browser tab, not a tab storm. Real processes, real sandbox, loopback only.
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createSession } from '../../src/auth/index.js';
import { isLive, readLoginMarker } from '../../src/auth/login-marker.js';
import { openCredentialStore } from '../../src/auth/store.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { capture, tempDir, testConfig } from './helpers.js';

const WORKER = fileURLToPath(new URL('./fixtures/login-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROCESSES = 4;
const CALLS = 5;

interface WorkerResult {
  id: string;
  pid: number;
  presented: number;
  opened: number;
  ownerLines: number;
  followerLines: number;
  statuses: number[];
  errors: Array<{ code: string; message: string }>;
  ms: number;
}

let sb: Sandbox;
let root: string;
let cleanup: () => Promise<void>;
let configDir: string;
let run = 0;
const stderrs: string[] = [];

beforeAll(async () => {
  sb = await startSandbox();
  ({ dir: root, cleanup } = await tempDir('drio-mcp-shared-login-'));
});
afterAll(async () => {
  await sb?.close();
  await cleanup?.();
});
beforeEach(async () => {
  run += 1;
  configDir = path.join(root, `config-${run}`);
  sb.clearFailures();
  sb.resetCounters();
});

function spawnWorker(env: Record<string, string>): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', WORKER], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      stderrs.push(stderr);
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as WorkerResult);
    });
  });
}

/** Starts `PROCESSES` workers, waits until all are loaded (and signed in when PRELOAD=1), runs `beforeGo`, then lets them call at once. */
async function runWorkers(extra: Record<string, string> = {}, beforeGo?: () => Promise<void>): Promise<{ results: WorkerResult[]; browserOpens: string[] }> {
  const barrier = path.join(root, `barrier-${run}`);
  const browserLog = path.join(root, `browser-${run}.log`);
  await mkdir(barrier);
  // The "user" takes 400 ms in the browser: long enough for every follower to see the URL (a faster sign-in may end
  // before a follower's first look, and then it has no URL to show).
  const env = { API_URL: sb.apiUrl, CONFIG_DIR: configDir, BARRIER_DIR: barrier, BROWSER_LOG: browserLog, CALLS: String(CALLS), BROWSER_DELAY_MS: '400', ...extra };
  const workers = Array.from({ length: PROCESSES }, (_, i) => spawnWorker({ ...env, WORKER_ID: String(i) }));
  const failed = Promise.race(workers).then(() => new Error('a worker finished before the go signal'), (e: unknown) => e);
  const deadline = Date.now() + 20_000;
  while ((await readdir(barrier)).length < PROCESSES) {
    if (Date.now() > deadline) throw new Error('workers did not get ready');
    const early = await Promise.race([failed, new Promise((r) => setTimeout(r, 20, undefined))]);
    if (early) throw early;
  }
  await beforeGo?.();
  await writeFile(path.join(barrier, 'go'), '');
  const results = await Promise.all(workers);
  const browserOpens = (await readFile(browserLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { results, browserOpens };
}

const store = () => openCredentialStore(configDir, sb.apiUrl, { logger: capture().logger });

/** Sign in once from this process, like `drio-mcp login`. */
async function signInOnce(): Promise<void> {
  const c = capture();
  const session = createSession(testConfig(sb.apiUrl, configDir), { logger: c.logger, stderr: c.stderr, openUrl: async (u) => void (await sb.completeLogin(u)) });
  await session.getAccessToken();
  await session.close();
}

/** One process ran the flow (presenter, browser, URL line); every other one followed it (no presenter, one URL line). */
function expectOneOwner(results: WorkerResult[]): WorkerResult {
  const owners = results.filter((r) => r.presented > 0);
  expect(owners).toHaveLength(1);
  const owner = owners[0]!;
  expect(owner).toMatchObject({ presented: 1, opened: 1, ownerLines: 1, followerLines: 0 });
  for (const r of results.filter((x) => x !== owner)) expect(r).toMatchObject({ presented: 0, opened: 0, ownerLines: 0, followerLines: 1 });
  return owner;
}

it(`first use: ${PROCESSES} processes × ${CALLS} concurrent calls with no tokens → one browser open, one authorization, one registration, every call succeeds`, async () => {
  const { results, browserOpens } = await runWorkers();
  console.info(
    `[shared-login] first use: ${browserOpens.length} browser open(s), ${sb.counters.authorizations} authorization(s), ${sb.counters.registrations} registration(s); ` +
      `calls done in ${results.map((r) => r.ms).join('/')} ms`,
  );
  expect(browserOpens).toHaveLength(1);
  expect(sb.counters.authorizations).toBe(1);
  expect(sb.counters.registrations).toBe(1);
  expect(sb.counters.grants).toEqual({ authorization_code: 1 });
  for (const r of results) expect(r).toMatchObject({ statuses: Array(CALLS).fill(200), errors: [] });
  expectOneOwner(results);
  // The owner removed its marker when its flow ended.
  expect((await readdir(configDir)).filter((f) => f.startsWith('login-'))).toEqual([]);
});

it(`after sleep: ${PROCESSES} signed-in processes whose grant was revoked → one browser open, one new authorization, all recover`, async () => {
  await signInOnce();
  const { results, browserOpens } = await runWorkers({ PRELOAD: '1' }, async () => {
    await sb.revokeAllGrants();
    sb.resetCounters();
  });
  console.info(
    `[shared-login] revoked grant: ${browserOpens.length} browser open(s), ${sb.counters.authorizations} authorization(s), ` +
      `${sb.counters.invalidGrant} invalid_grant, ${sb.counters.registrations} registration(s); calls done in ${results.map((r) => r.ms).join('/')} ms`,
  );
  expect(browserOpens).toHaveLength(1);
  expect(sb.counters.authorizations).toBe(1);
  expect(sb.counters.registrations).toBe(0);
  // One process learnt the grant was dead (and dropped it); the others found the store empty under the lock.
  expect(sb.counters.invalidGrant).toBe(1);
  for (const r of results) expect(r).toMatchObject({ statuses: Array(CALLS).fill(200), errors: [] });
  expectOneOwner(results);
});

it('a marker left by a process that died (SIGKILL mid-sign-in) is taken over by exactly one process', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']);
  expect(dead.status).toBe(0);
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const stale = {
    version: 1,
    pid: dead.pid,
    host: hostname(),
    id: 'left-by-a-dead-process',
    startedAt: new Date(now - 10_000).toISOString(),
    expiresAt: new Date(now + 300_000).toISOString(), // not expired: only the dead pid gives it away
    url: `${sb.issuer}/auth?client_id=gone&state=gone`,
  };
  await writeFile(store().loginMarkerPath, JSON.stringify(stale), { mode: 0o600 });
  const { results, browserOpens } = await runWorkers();
  console.info(`[shared-login] stale marker (dead pid ${dead.pid}): ${browserOpens.length} browser open(s), ${sb.counters.authorizations} authorization(s)`);
  expect(browserOpens).toHaveLength(1);
  expect(browserOpens[0]).not.toContain('state=gone');
  expect(sb.counters.authorizations).toBe(1);
  for (const r of results) expect(r).toMatchObject({ statuses: Array(CALLS).fill(200), errors: [] });
  expectOneOwner(results);
});

it('the shared sign-in is denied: every process gets ERR_AUTH_DENIED within a second or so, no second tab, no wait for the timeout', async () => {
  const { results, browserOpens } = await runWorkers({ BROWSER: 'deny', LOGIN_TIMEOUT_MS: '20000' });
  const owner = expectOneOwner(results);
  console.info(`[shared-login] denied: ${browserOpens.length} browser open(s); errors after ${results.map((r) => r.ms).join('/')} ms (login timeout 20000 ms)`);
  expect(browserOpens).toHaveLength(1);
  expect(sb.counters.authorizations).toBe(0);
  for (const r of results) {
    expect(r.statuses).toEqual([]);
    expect(r.errors).toHaveLength(CALLS);
    for (const e of r.errors) expect(e.code).toBe('ERR_AUTH_DENIED');
    expect(r.ms).toBeLessThan(5_000);
  }
  for (const r of results.filter((x) => x !== owner)) {
    expect(r.errors[0]!.message).toContain('cancelled or denied in the browser');
    expect(r.errors[0]!.message).toContain(`drio-mcp process ${owner.pid} ran this sign-in`);
  }
  // What is left is at most the ended marker, which is never live: the next call anywhere starts a new flow.
  const left = await readLoginMarker(store());
  expect(left === undefined || !isLive(left, Date.now())).toBe(true);
});

it('no issued token or code appears in anything the processes wrote', () => {
  const secrets = sb.issuedSecrets();
  expect(secrets.length).toBeGreaterThan(5);
  expect(stderrs.join('').length).toBeGreaterThan(1000);
  expect(secrets.filter((s) => s.length >= 8 && stderrs.some((e) => e.includes(s)))).toEqual([]);
});
