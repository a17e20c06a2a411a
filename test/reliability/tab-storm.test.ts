/**
 * Reliability, tab storms: four built `drio-mcp` servers (as Claude Desktop, Cursor, Claude Code... would spawn them)
 * share one config dir and all need a sign-in at the same moment, on first use and again after every grant was revoked
 * (a laptop back from a long sleep). One of them runs the browser flow; the others wait for its tokens instead of
 * opening their own tab: one browser open and one authorization each time, every call answered.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertFreshBuild } from '../helpers/built-server.js';
import { tempDir } from '../helpers/config.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { browserOpens, createTranscript, drioEnv, expectNoLeakedSecrets, spawnServer, type ServerProcess } from './support.js';

const HOSTS = 4;
const CALLS_PER_HOST = 5;

let sandbox: Sandbox;
let work: { dir: string; cleanup: () => Promise<void> };
const transcript = createTranscript();
const servers: ServerProcess[] = [];

beforeAll(async () => {
  assertFreshBuild();
  sandbox = await startSandbox();
  work = await tempDir('drio-mcp-tab-storm-');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await sandbox?.close();
  await work?.cleanup();
});

/** Every host fires its calls at once; returns the failures. */
async function storm(): Promise<string[]> {
  const failures: string[] = [];
  await Promise.all(
    servers.flatMap((server, host) =>
      Array.from({ length: CALLS_PER_HOST }, async () => {
        const result = await server.text('list_apps').catch((error: unknown) => ({ isError: true, text: String(error) }));
        if (result.isError || !result.text.includes('Analytical Engine')) failures.push(`host${host + 1}: ${result.text}`);
      }),
    ),
  );
  return failures;
}

/** How many servers sent the "Sign in to drio" notification, i.e. called the presenter (elicitation, browser). */
const presenting = () => servers.filter((s) => s.logs().some((l) => l.startsWith('Sign in to drio to continue: '))).length;

it(`${HOSTS} hosts × ${CALLS_PER_HOST} concurrent calls needing a sign-in, on first use and after a revoked grant: one browser tab each time`, async () => {
  const configDir = path.join(work.dir, 'shared');
  const browserLog = path.join(work.dir, 'browser.log');
  servers.push(...(await Promise.all(Array.from({ length: HOSTS }, (_, i) => spawnServer(drioEnv(sandbox.apiUrl, configDir, browserLog), transcript, `host${i + 1}`)))));

  let started = Date.now();
  expect(await storm()).toEqual([]);
  const firstUse = { ms: Date.now() - started, opens: await browserOpens(browserLog), authorizations: sandbox.counters.authorizations, registrations: sandbox.counters.registrations };
  expect(firstUse).toMatchObject({ opens: 1, authorizations: 1, registrations: 1 });
  expect(presenting()).toBe(1);

  // Back from a long sleep: every refresh token is dead.
  await sandbox.revokeAllGrants();
  sandbox.resetCounters();
  started = Date.now();
  expect(await storm()).toEqual([]);
  const afterSleep = {
    ms: Date.now() - started,
    opens: (await browserOpens(browserLog)) - firstUse.opens,
    authorizations: sandbox.counters.authorizations,
    invalidGrant: sandbox.counters.invalidGrant,
    registrations: sandbox.counters.registrations,
  };
  console.info(
    `[tab-storm] ${HOSTS} hosts × ${CALLS_PER_HOST} calls: first use ${firstUse.opens} browser open, ${firstUse.authorizations} authorization, ` +
      `${firstUse.registrations} registration in ${firstUse.ms} ms; after a revoked grant ${afterSleep.opens} browser open, ` +
      `${afterSleep.authorizations} authorization, ${afterSleep.invalidGrant} invalid_grant in ${afterSleep.ms} ms`,
  );
  expect(afterSleep).toMatchObject({ opens: 1, authorizations: 1, registrations: 0 });
  for (const s of servers) expect(s.alive()).toBe(true);
});

it('leaks no issued token or code in anything captured (stdout, stderr, results, log notifications)', () => {
  expectNoLeakedSecrets(transcript, sandbox.issuedSecrets(), 'tab-storm.test.ts');
});
