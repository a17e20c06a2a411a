/**
 * Reliability 4, callback hostility: drio-mcp's real login flow (createSession, its loopback listener, the sandbox's
 * oidc-provider) with the test playing both the user's browser and an attacker. A callback that does not belong to the
 * flow (wrong state, a replay, a foreign Host, a stray request) never yields tokens and never ends the flow; only the
 * real one does, once. The listener answers on 127.0.0.1 and nowhere else. All traffic stays on loopback.
 */
import { connect } from 'node:net';
import { createServer, type Server } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSession, type DrioAuthSession } from '../../src/auth/index.js';
import { startCallbackListener } from '../../src/auth/loopback.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { assertFreshBuild, spawnRaw } from '../helpers/built-server.js';
import { tempDir, testConfig } from '../helpers/config.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { createTranscript, expectNoLeakedSecrets } from './support.js';

let sb: Sandbox;
let dir: string;
let cleanup: () => Promise<void>;
const sessions: DrioAuthSession[] = [];
/** Every stderr line and page any flow produced, scanned for issued secrets at the end. */
const transcript = createTranscript();

beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(async () => {
  await sb?.close();
});
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('drio-mcp-hostile-'));
  sb.clearFailures();
  sb.resetCounters();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await cleanup();
});

interface Flow {
  session: DrioAuthSession;
  /** Sign-in URLs the session asked the "browser" to open, in order. */
  opened: string[];
  /** Sign-in URL lines written to "stderr". */
  urlLines(): string[];
  /** Resolves with the `n`th URL opened (0-based) once the session has asked for it. */
  open(n: number): Promise<string>;
}

/** A session whose browser does nothing by itself: the test decides what reaches the listener. */
function hostileFlow(overrides: Partial<Config> = {}): Flow {
  const opened: string[] = [];
  const lines: string[] = [];
  const write = (l: string) => {
    lines.push(l);
    transcript.add('session stderr', l);
  };
  const session = createSession(testConfig(sb.apiUrl, dir, overrides), {
    logger: createLogger({ level: 'debug', write }),
    stderr: write,
    openUrl: async (url) => void opened.push(url),
  });
  sessions.push(session);
  return {
    session,
    opened,
    urlLines: () => lines.filter((l) => l.includes('sign in to drio by opening this URL')),
    open: (n) => until(() => opened[n], `the session to open sign-in URL #${n + 1}`),
  };
}

/** Polls `probe` until it returns a value (5 s at most). */
async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (const started = Date.now(); Date.now() - started < 5000; await new Promise((r) => setTimeout(r, 5))) {
    const value = probe();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The loopback port and the state of a sign-in URL. */
function flowOf(authorizationUrl: string): { port: number; state: string; origin: string } {
  const url = new URL(authorizationUrl);
  const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
  return { port: Number(redirect.port), state: url.searchParams.get('state') ?? '', origin: redirect.origin };
}

interface RawResponse {
  status: number;
  body: string;
}

/**
 * One HTTP request over a raw socket to 127.0.0.1:`port`, so the Host header is exactly `host` (fetch forbids setting
 * it; `null` sends none, which only HTTP/1.0 allows).
 */
function rawRequest(port: number, method: string, pathAndQuery: string, host: string | null): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    // An unanswered request is a finding, not a hang.
    socket.setTimeout(3000, () => socket.destroy(new Error(`no answer to ${method} ${pathAndQuery} within 3 s`)));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    const head = host === null ? [`${method} ${pathAndQuery} HTTP/1.0`] : [`${method} ${pathAndQuery} HTTP/1.1`, `Host: ${host}`];
    socket.end([...head, 'Connection: close', '', ''].join('\r\n'));
  });
}

/** Tries a TCP connection; resolves 'connected' or the error code (e.g. ECONNREFUSED). */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A drio call with `token` (200 when drio accepts it). */
async function me(token: string): Promise<number> {
  const res = await fetch(`${sb.apiUrl}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Token requests the sign-in server has seen (any outcome). */
const tokenRequests = () => sb.counters.requests['POST /token'] ?? 0;

const keep = <T extends { body: string }>(page: T): T => {
  transcript.add('listener page', page.body);
  return page;
};

describe('callbacks that do not belong to the flow', () => {
  it('a wrong state never yields tokens, cannot cancel the flow, and the right callback still signs in', async () => {
    const flow = hostileFlow();
    const signedIn = flow.session.getAccessToken();
    const url = await flow.open(0);
    const { origin } = flowOf(url);

    // The sign-in server itself sends a real code, but with a state this flow never issued.
    const tampered = new URL(url);
    tampered.searchParams.set('state', 'attacker-chosen-state');
    const forged = keep(await sb.completeLogin(tampered.href));
    const realCode = new URL(forged.callbackUrl).searchParams.get('code');
    expect(realCode).toBeTruthy();
    expect(forged.status).toBe(400);
    expect(forged.body).toMatch(/drio-mcp: Sign-in link mismatch/);
    // Neither the real code without a state nor a forged "Cancel" gets past the state check.
    for (const query of [`code=${realCode}`, 'error=access_denied&state=attacker-chosen-state', 'error=access_denied']) {
      const res = keep(await rawRequest(Number(new URL(origin).port), 'GET', `/callback?${query}`, new URL(origin).host));
      expect(res.status, query).toBe(400);
      expect(res.body, query).toMatch(/mismatch/);
    }

    expect(tokenRequests()).toBe(0);
    expect((await flow.session.store.read()).tokens).toBeUndefined();
    expect((await flow.session.status()).loginInProgress?.url).toBe(url);

    const real = keep(await sb.completeLogin(url));
    expect(real.status).toBe(200);
    expect(real.body).toMatch(/drio-mcp: Signed in/);
    expect(await me(await signedIn)).toBe(200);
    // Exactly one exchange: the mismatched flow's real code was never redeemed.
    expect(tokenRequests()).toBe(1);
    expect(sb.counters.grants).toEqual({ authorization_code: 1 });
  });

  it('a replayed callback is refused and never exchanged twice: during the exchange, after it, and in the next flow', async () => {
    const flow = hostileFlow();
    const first = flow.session.getAccessToken();
    const url = await flow.open(0);
    const { port, state } = flowOf(url);

    // While the listener is exchanging the code (the token endpoint stalls), a second callback with the same state.
    sb.fail('POST /token', { kind: 'delay', ms: 700, times: 1 });
    const real = sb.completeLogin(url);
    await until(() => (tokenRequests() === 1 ? true : undefined), 'the code exchange to start');
    const duplicate = keep(await rawRequest(port, 'GET', `/callback?code=second-code&state=${state}`, `127.0.0.1:${port}`));
    expect(duplicate.status).toBe(410);
    expect(duplicate.body).toMatch(/drio-mcp: Sign-in expired/);
    const done = keep(await real);
    expect(done.status).toBe(200);
    expect(await me(await first)).toBe(200);
    expect(tokenRequests()).toBe(1);

    // After success the one-shot listener is gone: the same callback URL meets a closed port.
    expect(await tryConnect('127.0.0.1', port)).toBe('ECONNREFUSED');
    // So does the sign-in link opened again (a second tab): the server issues a new code nobody can deliver.
    expect((await sb.completeLogin(url)).status).toBe(0);
    expect(sb.counters.authorizations).toBe(2);
    expect(tokenRequests()).toBe(1);

    // A new sign-in listens on the registered port again; the old callback, replayed into it, is a mismatch.
    const second = flow.session.login();
    const nextUrl = await flow.open(1);
    expect(flowOf(nextUrl).port).toBe(port);
    const replay = keep(await rawRequest(port, 'GET', new URL(done.callbackUrl).pathname + new URL(done.callbackUrl).search, `127.0.0.1:${port}`));
    expect(replay.status).toBe(400);
    expect(replay.body).toMatch(/mismatch/);
    expect(tokenRequests()).toBe(1);
    expect(keep(await sb.completeLogin(nextUrl)).status).toBe(200);
    await second;
    expect(sb.counters.grants).toEqual({ authorization_code: 2 });
    expect(sb.counters.registrations).toBe(1);
  });

  it('a second login while one is running shares it: one browser open, one URL, one exchange', async () => {
    const flow = hostileFlow();
    const toolCall = flow.session.getAccessToken();
    const url = await flow.open(0);
    // `drio-mcp login` style and more tool calls, while the first sign-in waits for the browser.
    const explicitLogins = [flow.session.login(), flow.session.login()];
    const laterCall = flow.session.getAccessToken();
    await new Promise((r) => setTimeout(r, 150));
    expect(flow.opened).toEqual([url]);
    expect(flow.urlLines()).toHaveLength(1);
    expect((await flow.session.status()).loginInProgress?.url).toBe(url);

    expect(keep(await sb.completeLogin(url)).status).toBe(200);
    await Promise.all(explicitLogins);
    const [a, b] = await Promise.all([toolCall, laterCall]);
    expect(a).toBe(b);
    expect(await me(a)).toBe(200);
    expect(flow.opened).toHaveLength(1);
    expect(sb.counters.authorizations).toBe(1);
    expect(sb.counters.grants).toEqual({ authorization_code: 1 });
  });
});

describe('requests that are not callbacks at all', () => {
  it('foreign Host headers (DNS rebinding) are refused before the state is read, and leave the flow running', async () => {
    const flow = hostileFlow();
    const signedIn = flow.session.getAccessToken();
    const url = await flow.open(0);
    const { port, state } = flowOf(url);
    const rightState = `/callback?code=rebound-code&state=${state}`;

    const foreignHosts = ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1`];
    for (const host of foreignHosts) {
      const res = keep(await rawRequest(port, 'GET', rightState, host));
      expect(res.status, host).toBe(400);
      expect(res.body, host).toMatch(/drio-mcp: Bad request/);
    }
    // A rebound page cannot cancel the sign-in either, nor can a request with no Host at all.
    expect((await rawRequest(port, 'GET', `/callback?error=access_denied&state=${state}`, 'evil.example')).status).toBe(400);
    expect((await rawRequest(port, 'GET', rightState, null)).status).toBe(400);
    // Stray requests a browser makes on its own are answered and ignored.
    expect((await rawRequest(port, 'GET', '/favicon.ico', `127.0.0.1:${port}`)).status).toBe(404);
    expect((await rawRequest(port, 'GET', '/', `localhost:${port}`)).status).toBe(404);
    expect((await rawRequest(port, 'POST', rightState, `127.0.0.1:${port}`)).status).toBe(405);
    // A request-target no URL parser accepts (only a raw client can send one) is answered too, not thrown on.
    expect((await rawRequest(port, 'GET', 'http://[::1', `127.0.0.1:${port}`)).status).toBe(400);

    expect(tokenRequests()).toBe(0);
    expect((await flow.session.status()).loginInProgress?.url).toBe(url);
    expect(keep(await sb.completeLogin(url)).status).toBe(200);
    expect(await me(await signedIn)).toBe(200);
    expect(flow.opened).toHaveLength(1);
  });

  it('control: the same request with the listener\u2019s own Host does reach the flow (and ends it), so the Host check is what stood in the way', async () => {
    const flow = hostileFlow();
    const attempt = flow.session.getAccessToken().catch((e: unknown) => e);
    const { port, state } = flowOf(await flow.open(0));
    const res = keep(await rawRequest(port, 'GET', `/callback?code=rebound-code&state=${state}`, `127.0.0.1:${port}`));
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/drio-mcp: Sign-in failed/);
    expect(await attempt).toMatchObject({ code: 'ERR_AUTH_OAUTH' });
    expect((await flow.session.status()).loginInProgress).toBeUndefined();
  });
});

describe('drio-mcp login, the built CLI', () => {
  it('regression: one malformed request to its listener crashed `drio-mcp login` (ERR_INVALID_URL); now answered, and the sign-in completes', async () => {
    assertFreshBuild();
    const cli = spawnRaw({ DRIO_API_URL: sb.apiUrl, DRIO_MCP_CONFIG_DIR: dir, DRIO_MCP_NO_BROWSER: '1' }, ['login']);
    let exited = false;
    void cli.exited.then(() => (exited = true));
    try {
      const url = await until(() => /opening this URL: (\S+)/.exec(cli.stderr())?.[1], 'the sign-in URL on stderr');
      const { port } = flowOf(url);
      expect((await rawRequest(port, 'GET', 'http://[::1', `127.0.0.1:${port}`)).status).toBe(400);
      expect(keep(await sb.completeLogin(url)).status).toBe(200);
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(sb.counters.grants).toEqual({ authorization_code: 1 });
    } finally {
      transcript.add('drio-mcp login stderr', cli.stderr());
      if (!exited) cli.child.kill();
    }
  });
});

describe('where the listener can be reached', () => {
  it('binds exactly 127.0.0.1 (IPv4), as address() reports', async () => {
    const listener = await startCallbackListener({ port: 0, expectedState: 's', timeoutMs: 5000, onCallback: async () => 'never' });
    try {
      expect(listener.address).toEqual({ address: '127.0.0.1', family: 'IPv4', port: listener.port });
      expect(listener.redirectUri).toBe(`http://127.0.0.1:${listener.port}/callback`);
    } finally {
      await listener.close();
    }
  });

  it('during a real sign-in: listening on 127.0.0.1 only; 127.0.0.2 and ::1 are refused', async () => {
    const flow = hostileFlow();
    const signedIn = flow.session.getAccessToken();
    const url = await flow.open(0);
    const { port } = flowOf(url);

    if (process.platform === 'linux') {
      // The kernel's own table of listening sockets (state 0A) for this port: one, on 127.0.0.1, none on IPv6.
      const listening = async (file: string) =>
        (await readFile(file, 'utf8'))
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .filter((f) => f[3] === '0A' && f[1]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`))
          .map((f) => f[1]);
      expect(await listening('/proc/net/tcp')).toEqual([`0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`]);
      expect(await listening('/proc/net/tcp6')).toEqual([]);
    }

    // 127.0.0.2 is a live address on this machine (a control server there accepts), yet the listener is not on it.
    const control: Server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.2', resolve));
    try {
      expect(await tryConnect('127.0.0.2', (control.address() as { port: number }).port)).toBe('connected');
    } finally {
      await new Promise((resolve) => control.close(resolve));
    }
    expect(await tryConnect('127.0.0.2', port)).toBe('ECONNREFUSED');
    expect(await tryConnect('::1', port)).toBe('ECONNREFUSED');
    expect(await tryConnect('127.0.0.1', port)).toBe('connected');

    expect(keep(await sb.completeLogin(url)).status).toBe(200);
    expect(await me(await signedIn)).toBe(200);
  });
});

describe('secrets', () => {
  it('no issued token appears in anything the flows wrote or showed', () => {
    expectNoLeakedSecrets(transcript, sb.issuedSecrets(), 'callback-hostility.test.ts');
  });
});
