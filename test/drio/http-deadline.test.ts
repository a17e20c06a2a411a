import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDrioHttp } from '../../src/drio/http.js';
import { ApiError, NetworkError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

// A server that sends its headers and then stalls the body: the per-request deadline must cover the body too.
describe('drio http deadline', () => {
  let server: Server;
  let base: string;
  let leaked = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/leak' }).end();
        return;
      }
      if (req.url === '/leak') leaked += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"apps": [');
      if (req.url === '/complete') res.end(']}');
      // else: never finish the body
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { address, port } = server.address() as AddressInfo;
    expect(address).toBe('127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const http = () => createDrioHttp({ apiUrl: base, tokens: { getAccessToken: async () => 'unused' }, timeoutMs: 300, userAgent: 'test', logger: silentLogger });

  it('times out a body that stalls after the headers, with a clear message', async () => {
    const started = Date.now();
    const error = await http()({ method: 'GET', path: '/stall', auth: 'public', what: 'the app list' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).code).toBe('ERR_TIMEOUT');
    expect((error as Error).message).toMatch(/no answer within 0\.3 s/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reads a complete body well within the deadline', async () => {
    await expect(http()({ method: 'GET', path: '/complete', auth: 'public', what: 'the app list' })).resolves.toEqual({ apps: [] });
  });

  it('never follows a redirect, so the bearer token is only ever sent where it was meant to go', async () => {
    const error = await http()({ method: 'GET', path: '/moved', auth: 'bearer', what: 'the app list' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(302);
    expect((error as Error).message).toMatch(/^drio error 302 http_302: Found/);
    expect(leaked).toBe(0);
  });

  it('follows the caller’s cancellation', async () => {
    const controller = new AbortController();
    const pending = http()({ method: 'GET', path: '/stall', auth: 'public', what: 'the app list' }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled by the client')), 50);
    await expect(pending).rejects.toThrow('cancelled by the client');
  });
});
