// `drio-mcp login | status | logout` against the sandbox. The login opens the "browser" through the real `open`
// package: BROWSER points at the sandbox's fake browser, which completes the sign-in over HTTP.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH_COMMAND_HELP, runAuthCommand } from '../../src/auth/index.js';
import { environmentKey } from '../../src/auth/store.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { tempDir, testConfig } from './helpers.js';

const FAKE_BROWSER = fileURLToPath(new URL('../sandbox/fake-browser.mjs', import.meta.url));

let sb: Sandbox;
let dir: string;
let cleanup: () => Promise<void>;
const saved = { BROWSER: process.env.BROWSER, FAKE_BROWSER_LOG: process.env.FAKE_BROWSER_LOG };
const everything: string[] = [];

beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(async () => {
  await sb?.close();
  process.env.BROWSER = saved.BROWSER;
  process.env.FAKE_BROWSER_LOG = saved.FAKE_BROWSER_LOG;
  if (saved.BROWSER === undefined) delete process.env.BROWSER;
  if (saved.FAKE_BROWSER_LOG === undefined) delete process.env.FAKE_BROWSER_LOG;
});
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  sb.resetCounters();
});
afterEach(async () => cleanup());

async function run(command: 'login' | 'logout' | 'status', overrides = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAuthCommand(command, testConfig(sb.apiUrl, dir, { logLevel: 'info', ...overrides }), {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
  });
  everything.push(...out, ...err);
  return { code, out: out.join(''), err: err.join('') };
}

describe('drio-mcp login / status / logout', () => {
  it('login opens the browser once via `open` (BROWSER), prints the URL, and names the account', async () => {
    const log = path.join(dir, 'opened.log');
    process.env.BROWSER = FAKE_BROWSER;
    process.env.FAKE_BROWSER_LOG = log;
    const login = await run('login');
    expect(login.code).toBe(0);
    expect(login.err).toMatch(/sign in to drio by opening this URL: http:\/\/127\.0\.0\.1:\d+\/oauth2\/authorize\?/);
    expect(login.out).toBe(`Signed in to drio at ${sb.apiUrl} as ${sb.user.name} <${sb.user.email}>.\n`);
    expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(sb.counters.registrations).toBe(1);
  });

  it('status shows who, until when, the issuer and the store; logout revokes; status then says signed out', async () => {
    process.env.BROWSER = FAKE_BROWSER;
    delete process.env.FAKE_BROWSER_LOG;
    expect((await run('login')).code).toBe(0);
    const status = await run('status');
    expect(status.code).toBe(0);
    expect(status.out).toContain(`drio API:    ${sb.apiUrl}`);
    expect(status.out).toContain(`Signed in:   yes as ${sb.user.name} <${sb.user.email}>`);
    expect(status.out).toMatch(/Token until: \d{4}-\d\d-\d\dT.*\(refreshed automatically\)/);
    expect(status.out).toContain(`Sign-in via: ${sb.issuer}`);
    expect(status.out).toMatch(new RegExp(`Stored in:   ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/credentials-[0-9a-f]{16}\\.json`));

    const logout = await run('logout');
    expect(logout).toMatchObject({ code: 0, out: `Signed out of drio at ${sb.apiUrl} (the sign-in was revoked at the server).\n` });
    expect(sb.counters.revocations).toBe(1);
    const after = await run('status');
    expect(after.code).toBe(1);
    expect(after.out).toContain('Signed in:   no');
  });

  it('login reports a denied sign-in with exit code 1 and a clear message', async () => {
    process.env.BROWSER = FAKE_BROWSER;
    process.env.FAKE_BROWSER_DENY = '1';
    try {
      const login = await run('login');
      expect(login.code).toBe(1);
      expect(login.err).toMatch(/drio-mcp login: Sign-in to drio was cancelled or denied/);
    } finally {
      delete process.env.FAKE_BROWSER_DENY;
    }
  });

  it('status with a corrupt store says signed out without crashing', async () => {
    await writeFile(path.join(dir, `credentials-${environmentKey(sb.apiUrl)}.json`), '\u0000garbage');
    const status = await run('status');
    expect(status.code).toBe(1);
    expect(status.out).toContain('Signed in:   no');
    expect(status.err).toMatch(/not valid JSON; treating this as signed out/);
  });

  it('has --help text for each command', () => {
    for (const cmd of ['login', 'logout', 'status'] as const) expect(AUTH_COMMAND_HELP[cmd]).toMatch(new RegExp(`^Usage: drio-mcp ${cmd}\\n`));
  });

  it('never prints a token or code', () => {
    const secrets = sb.issuedSecrets();
    expect(secrets.length).toBeGreaterThan(0);
    const text = everything.join('');
    expect(secrets.filter((s) => text.includes(s))).toEqual([]);
  });
});
