import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackPortBusyError, startCallbackListener, type CallbackListener } from '../../src/auth/loopback.js';

/** GET with full control of the Host header (fetch forbids setting it). */
function get(port: number, pathAndQuery: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: pathAndQuery, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const open: CallbackListener<unknown>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function listener<T>(onCallback: (u: URL) => Promise<T>, extra: { timeoutMs?: number; port?: number; signal?: AbortSignal } = {}) {
  const l = await startCallbackListener({ port: extra.port ?? 0, expectedState: 'the-state', timeoutMs: extra.timeoutMs ?? 10_000, onCallback, signal: extra.signal });
  open.push(l as CallbackListener<unknown>);
  return l;
}

describe('loopback callback listener', () => {
  it('binds 127.0.0.1 only and exposes its redirect URI', async () => {
    const l = await listener(async () => 'ok');
    expect(l.address.address).toBe('127.0.0.1');
    expect(l.redirectUri).toBe(`http://127.0.0.1:${l.port}/callback`);
  });

  it('passes the callback, rebuilt on the registered redirect URI, to the handler and shows a signed-in page', async () => {
    let seen: URL | undefined;
    const l = await listener(async (u) => {
      seen = u;
      return 'tokens';
    });
    const res = await get(l.port, '/callback?code=abc&state=the-state&iss=x', `localhost:${l.port}`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('drio-mcp');
    expect(res.body).toContain('Signed in');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(seen?.href).toBe(`http://127.0.0.1:${l.port}/callback?code=abc&state=the-state&iss=x`);
    await expect(l.result).resolves.toBe('tokens');
  });

  it('ignores stray requests (favicon, other paths, foreign Host, wrong method) without ending the flow', async () => {
    const l = await listener(async () => 'done');
    expect((await get(l.port, '/favicon.ico')).status).toBe(404);
    expect((await get(l.port, '/')).status).toBe(404);
    expect((await get(l.port, '/callback?code=abc&state=the-state', 'evil.example:80')).status).toBe(400);
    const post = await fetch(`http://127.0.0.1:${l.port}/callback?code=abc&state=the-state`, { method: 'POST' });
    expect(post.status).toBe(405);
    const ok = await get(l.port, '/callback?code=abc&state=the-state');
    expect(ok.status).toBe(200);
    await expect(l.result).resolves.toBe('done');
  });

  it('checks state before anything else: a mismatch is answered, ignored, and the real callback still works', async () => {
    let calls = 0;
    const l = await listener(async () => {
      calls += 1;
      return 'done';
    });
    const forged = await get(l.port, '/callback?code=attacker&state=wrong');
    expect(forged.status).toBe(400);
    expect(forged.body).toMatch(/drio-mcp.*mismatch/s);
    const noState = await get(l.port, '/callback?error=access_denied');
    expect(noState.status).toBe(400);
    expect(calls).toBe(0);
    expect((await get(l.port, '/callback?code=real&state=the-state')).status).toBe(200);
    await expect(l.result).resolves.toBe('done');
    expect(calls).toBe(1);
  });

  it('turns error=access_denied into ERR_AUTH_DENIED and a denied page', async () => {
    const l = await listener(async () => 'never');
    const res = await get(l.port, '/callback?error=access_denied&error_description=nope&state=the-state');
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/drio-mcp.*not given access/s);
    await expect(l.result).rejects.toMatchObject({ code: 'ERR_AUTH_DENIED' });
  });

  it('turns other OAuth errors into ERR_AUTH_OAUTH, echoing only a well-formed code', async () => {
    const l = await listener(async () => 'never');
    await get(l.port, '/callback?error=%3Cscript%3E&state=the-state');
    const err = await l.result.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_AUTH_OAUTH' });
    expect((err as Error).message).not.toContain('<script>');
  });

  it('shows a failure page and rejects when the code exchange fails', async () => {
    const l = await listener(async () => {
      throw new Error('exchange failed');
    });
    const res = await get(l.port, '/callback?code=abc&state=the-state');
    expect(res.status).toBe(400);
    expect(res.body).toContain('Sign-in failed');
    await expect(l.result).rejects.toThrow('exchange failed');
  });

  it('times out with ERR_AUTH_LOGIN_TIMEOUT and closes the port', async () => {
    const l = await listener(async () => 'never', { timeoutMs: 150 });
    await expect(l.result).rejects.toMatchObject({ code: 'ERR_AUTH_LOGIN_TIMEOUT' });
    await new Promise((r) => setTimeout(r, 50));
    await expect(get(l.port, '/callback?code=abc&state=the-state')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('closes after a completed flow; a late duplicate cannot reach it', async () => {
    const l = await listener(async () => 'done');
    await get(l.port, '/callback?code=abc&state=the-state');
    await l.result;
    await new Promise((r) => setTimeout(r, 50));
    await expect(get(l.port, '/callback?code=abc&state=the-state')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects with ERR_AUTH_LOGIN_ABORTED when aborted or closed', async () => {
    const ac = new AbortController();
    const l = await listener(async () => 'never', { signal: ac.signal });
    ac.abort();
    await expect(l.result).rejects.toMatchObject({ code: 'ERR_AUTH_LOGIN_ABORTED' });
    const l2 = await listener(async () => 'never');
    await l2.close();
    await expect(l2.result).rejects.toMatchObject({ code: 'ERR_AUTH_LOGIN_ABORTED' });
  });

  it('reports a busy port as CallbackPortBusyError instead of crashing', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startCallbackListener({ port, expectedState: 's', timeoutMs: 1000, onCallback: async () => 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CallbackPortBusyError);
      expect(err).toMatchObject({ code: 'ERR_AUTH_CALLBACK_PORT', port });
    } finally {
      blocker.close();
    }
  });
});
