/**
 * Reliability 7, a real browser: Debian's chromium, driven by playwright-core (never a downloaded browser), signs in
 * through the sandbox's login page in a flow started by drio-mcp itself (a tool call on the MCP server, the real auth
 * session, its loopback listener), and shows drio-mcp's success page; a second user presses "Cancel" and sees the
 * denied page while the tool call answers with a clear "denied" error. Every page is screenshotted.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, textOf, type Harness } from '../helpers/harness.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { createTranscript, expectNoLeakedSecrets } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let sb: Sandbox;
/** Awaited by each test, so a missing chromium fails every test by name instead of leaving them "skipped". */
let browserLaunch: Promise<Browser>;
/** Kept when DRIO_MCP_SCREENSHOT_DIR names it; otherwise a temp dir removed at the end. */
let shots: { dir: string; keep: boolean };
const harnesses: Harness[] = [];
const contexts: BrowserContext[] = [];
/** Every page the browser showed, plus each server's tool results and stderr, scanned for issued secrets at the end. */
const transcript = createTranscript();

/** Launches Debian's chromium; a missing one fails the file (in CI and locally alike), it never skips. */
async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      process.env.CI
        ? `${CHROMIUM} is missing in CI: .ci/run should have installed it (apt-get install chromium). The real-browser sign-in test cannot run without it.`
        : `${CHROMIUM} is missing: install Debian's chromium with \`apt-get install chromium\` (this test never downloads a browser).`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

beforeAll(async () => {
  const named = process.env.DRIO_MCP_SCREENSHOT_DIR;
  shots = named ? { dir: named, keep: true } : { dir: await mkdtemp(path.join(tmpdir(), 'drio-mcp-browser-')), keep: false };
  await mkdir(shots.dir, { recursive: true });
  browserLaunch = launchChromium();
  browserLaunch.catch(() => undefined);
  sb = await startSandbox();
}, 30_000);
afterAll(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  await (await browserLaunch?.catch(() => undefined))?.close();
  await sb?.close();
  if (shots && !shots.keep) await rm(shots.dir, { recursive: true, force: true });
});

/** Saves a full-page screenshot and checks it is a non-empty PNG of the page's size. */
async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(shots.dir, name);
  await page.screenshot({ path: file, fullPage: true });
  transcript.add(`page ${name}`, await page.content());
  const png = await readFile(file);
  expect(png.subarray(0, 8).toString('hex'), `${file} is a PNG`).toBe('89504e470d0a1a0a');
  // IHDR: width and height right after the chunk header.
  expect(png.readUInt32BE(16), `${file} width`).toBeGreaterThan(0);
  expect(png.readUInt32BE(20), `${file} height`).toBeGreaterThan(0);
  expect(png.length, `${file} size`).toBeGreaterThan(2000);
  return file;
}

/**
 * An MCP server (real auth session, real listener) whose "open the browser" navigates a fresh chromium page, with its
 * own cookies, to the sign-in URL; `callbackStatus` is the HTTP status drio-mcp's listener answered the browser with.
 */
async function serverWithBrowser(): Promise<{ harness: Harness; page: Page; callbackStatus: () => number | undefined }> {
  const context = await (await browserLaunch).newContext();
  contexts.push(context);
  const page = await context.newPage();
  let callbackStatus: number | undefined;
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (url.hostname === '127.0.0.1' && url.pathname === '/callback') callbackStatus = res.status();
  });
  const harness = await startHarness(sb, {
    openUrl: async (url) => {
      await page.goto(url);
    },
  });
  harnesses.push(harness);
  return { harness, page, callbackStatus: () => callbackStatus };
}

/** Waits until the browser shows drio-mcp's loopback listener page for the flow the harness opened. */
async function waitForListenerPage(page: Page, harness: Harness): Promise<URL> {
  const redirect = new URL(new URL(harness.opens[0] ?? '').searchParams.get('redirect_uri') ?? '');
  await page.waitForURL((u) => u.origin === redirect.origin && u.pathname === '/callback');
  return new URL(page.url());
}

describe('sign-in with Debian chromium', () => {
  it('"Sign in" on the sandbox page: drio-mcp shows its signed-in page and the tool call succeeds', async () => {
    const { harness, page, callbackStatus } = await serverWithBrowser();
    const call = harness.call('list_apps');

    const signIn = page.getByRole('button', { name: 'Sign in' });
    await signIn.waitFor();
    expect(await page.title()).toBe('Sign in to drio (sandbox)');
    await screenshot(page, '1-sandbox-login.png');
    await signIn.click();

    const landed = await waitForListenerPage(page, harness);
    expect(callbackStatus()).toBe(200);
    expect(await page.title()).toBe('drio-mcp: Signed in');
    expect(await page.locator('h1').textContent()).toBe('drio-mcp: Signed in');
    expect(await page.locator('body').innerText()).toContain('drio-mcp is now signed in to drio');
    // The address bar carries the code; the page itself never repeats it.
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();
    expect(await page.content()).not.toContain(code);
    await screenshot(page, '2-drio-mcp-signed-in.png');

    const result = await call;
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(harness.opens).toHaveLength(1);
    expect(sb.counters.grants.authorization_code).toBe(1);
    expect((await harness.session()?.status())?.signedIn).toBe(true);
  });

  it('"Cancel" on the sandbox page: drio-mcp shows its denied page and the tool call says the sign-in was denied', async () => {
    const { harness, page, callbackStatus } = await serverWithBrowser();
    const call = harness.call('list_apps');

    const cancel = page.getByRole('button', { name: 'Cancel' });
    await cancel.waitFor();
    await screenshot(page, '3-sandbox-login-before-cancel.png');
    await cancel.click();

    await waitForListenerPage(page, harness);
    expect(callbackStatus()).toBe(403);
    expect(await page.title()).toBe('drio-mcp: Sign-in cancelled');
    expect(await page.locator('body').innerText()).toContain('drio-mcp was not given access to drio');
    await screenshot(page, '4-drio-mcp-denied.png');

    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/denied/);
    expect(textOf(result)).toContain('Ask again to start a new sign-in');
    const status = await harness.session()?.status();
    expect(status?.signedIn).toBe(false);
    expect(status?.loginInProgress).toBeUndefined();
    expect(harness.opens).toHaveLength(1);
  });

  it('no issued token appears in any page, tool result or log line', () => {
    for (const h of harnesses) transcript.add('drio-mcp transcript', h.transcript());
    expectNoLeakedSecrets(transcript, sb.issuedSecrets(), 'real-browser.test.ts');
  });
});
