import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GetAccessTokenOptions, TokenSource } from '../../src/auth/types.js';
import { VERSION } from '../../src/config.js';
import { createDrioClient, type DrioClient } from '../../src/drio/index.js';
import { parseRetryAfter } from '../../src/drio/http.js';
import { ApiError, DrioMcpError, InputError, InvalidResponseError, NetworkError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { closedPort, startScriptedServer } from '../helpers/scripted-server.js';
import { signedInSession, type SignedIn } from '../helpers/signed-in.js';

let sandbox: Sandbox;
let signedIn: SignedIn;

beforeAll(async () => {
  sandbox = await startSandbox();
  signedIn = await signedInSession(sandbox);
});
afterAll(async () => {
  await signedIn?.close();
  await sandbox?.close();
});
beforeEach(() => sandbox.resetCounters());
afterEach(() => sandbox.clearFailures());

/** A TokenSource that records calls and must not be used by public routes. */
function recordingTokens(next: (options?: GetAccessTokenOptions) => Promise<string>): TokenSource & { calls: Array<GetAccessTokenOptions | undefined> } {
  const calls: Array<GetAccessTokenOptions | undefined> = [];
  return {
    calls,
    getAccessToken(options) {
      calls.push(options);
      return next(options);
    },
  };
}

function client(options: { tokens?: TokenSource; apiUrl?: string; timeoutMs?: number; retry?: { baseDelayMs?: number; maxTotalWaitMs?: number } } = {}): DrioClient {
  return createDrioClient({
    apiUrl: options.apiUrl ?? sandbox.apiUrl,
    tokens: options.tokens ?? signedIn.session,
    timeoutMs: options.timeoutMs ?? 5000,
    logger: silentLogger,
    retry: { baseDelayMs: 20, ...options.retry },
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const requests = (key: string) => sandbox.counters.requests[key] ?? 0;

describe('public routes', () => {
  it('lists and gets templates without touching the TokenSource', async () => {
    const tokens = recordingTokens(async () => {
      throw new Error('public routes must not ask for a token');
    });
    const drio = client({ tokens });
    const templates = await drio.listTemplates();
    expect(templates.map((t) => t.id)).toEqual(['tpl_blank', 'tpl_support_desk', 'tpl_store_catalog', 'tpl_booking']);
    const template = await drio.getTemplate('tpl_booking');
    expect(template).toMatchObject({ id: 'tpl_booking', name: 'Booking', category: 'scheduling' });
    expect(tokens.calls).toHaveLength(0);
  });

  it('reports an unknown template as a 404 with drio’s request id', async () => {
    const error = await failure(client().getTemplate('tpl_nope'));
    expect(error).toBeInstanceOf(ApiError);
    const api = error as ApiError;
    expect(api.status).toBe(404);
    expect(api.apiCode).toBe('not_found');
    expect(api.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(api.message).toBe(`drio error 404 not_found: Template not found (request id ${api.requestId})`);
  });
});

describe('protected routes', () => {
  it('reads the account, apps, config, tools, widgets and auth connections', async () => {
    const drio = client();
    expect(await drio.getMe()).toMatchObject({ id: sandbox.user.id, email: sandbox.user.email, name: sandbox.user.name });

    const apps = await drio.listApps();
    expect(apps.map((a) => a.id)).toEqual(['app_123', 'app_support', 'app_catalog']);
    // Unknown fields are kept, not stripped.
    expect(apps[0]).toMatchObject({ createdAt: '2025-01-15T10:00:00.000Z', branding: { borderRadius: 8 } });

    expect(await drio.getApp('app_123')).toMatchObject({ id: 'app_123', slug: 'analytical-engine', status: 'published', isEnabled: true });
    const config = await drio.getAppConfig('app_123');
    expect(Object.keys(config)).toEqual(expect.arrayContaining(['authConnections', 'integrations', 'tools', 'widgets', 'branding']));
    expect((await drio.listAppTools('app_123')).map((t) => t.key)).toEqual(['search_items', 'get_item', 'create_ticket']);
    expect((await drio.listAppWidgets('app_123'))[0]).toMatchObject({ key: 'item_list', primitive: 'list', toolId: 'tool_app_123_search_items' });
    const auth = await drio.getAppAuth('app_123');
    expect(auth.auth.map((c) => c.name)).toEqual(['HubSpot CRM', 'Inventory API key']);
    expect(auth.providers.map((p) => p.key)).toEqual(['hubspot', 'api_key']);
  });

  it('runs commands with {command, args} and creates apps', async () => {
    const drio = client();
    const validate = await drio.runAppCommand('app_catalog', { command: 'validate', args: { strict: true } });
    expect(validate).toMatchObject({ command: 'validate', status: 'succeeded', result: { ok: true } });
    const deploy = await drio.runAppCommand('app_catalog', { command: 'deploy' });
    expect(deploy).toMatchObject({ command: 'deploy', status: 'succeeded', result: { version: 2 } });
    expect(await drio.getApp('app_catalog')).toMatchObject({ status: 'published', version: 2 });

    const created = await drio.createApp({ name: 'Lovelace Notes', templateId: 'tpl_blank', slug: 'lovelace-notes', branding: { primaryColor: '#112233' } });
    expect(created).toMatchObject({ name: 'Lovelace Notes', slug: 'lovelace-notes', templateId: 'tpl_blank', status: 'draft', branding: { primaryColor: '#112233' } });
    expect((await drio.listApps()).map((a) => a.id)).toContain(created.id);
  });

  it('sends the command body exactly as drio-api.md says', async () => {
    const scripted = await startScriptedServer(() => ({
      status: 200,
      body: JSON.stringify({ command: { id: 'cmd_1', command: 'deploy', status: 'queued', createdAt: '2025-01-01T00:00:00Z' } }),
    }));
    try {
      const drio = client({ apiUrl: scripted.url, tokens: recordingTokens(async () => 'token-for-scripted-server') });
      await drio.runAppCommand('app_1', { command: 'deploy', args: { note: 'x' } });
      await drio.runAppCommand('app_1', { command: 'validate' });
      expect(scripted.requests.map((r) => [r.method, r.url, JSON.parse(r.body)])).toEqual([
        ['POST', '/api/v1/apps/app_1/commands', { command: 'deploy', args: { note: 'x' } }],
        ['POST', '/api/v1/apps/app_1/commands', { command: 'validate' }],
      ]);
      expect(scripted.requests[0]!.headers['content-type']).toBe('application/json');
    } finally {
      await scripted.close();
    }
  });

  it('reports another user’s app as not found with the request id', async () => {
    const error = (await failure(client().getApp('app_foreign'))) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.apiCode]).toEqual([404, 'not_found']);
    expect(error.message).toContain(`(request id ${error.requestId})`);
  });

  it('passes drio’s validation errors through with their details', async () => {
    const error = (await failure(client().createApp({ name: 'X', templateId: 'tpl_missing' }))) as ApiError;
    expect([error.status, error.apiCode]).toEqual([422, 'validation_error']);
    expect(error.details).toEqual({ fields: [{ field: 'templateId', message: 'Unknown template "tpl_missing"' }] });
    const unknown = (await failure(client().runAppCommand('app_123', { command: 'explode' }))) as ApiError;
    expect([unknown.status, unknown.apiCode, unknown.message]).toEqual([400, 'bad_request', expect.stringContaining('Unknown command "explode"')]);
  });
});

describe('path parameters', () => {
  it.each(['../me', 'a/b', '..', '.', '%2e%2e', 'app_1?x=1', 'app_1#x', 'app 1', '', 'x'.repeat(129)])(
    'rejects appId %j before any request is made',
    async (appId) => {
      const tokens = recordingTokens(async () => 'unused');
      const drio = client({ tokens });
      for (const call of [() => drio.getApp(appId), () => drio.getAppConfig(appId), () => drio.runAppCommand(appId, { command: 'deploy' })]) {
        const error = await failure(call());
        expect(error).toBeInstanceOf(InputError);
        expect((error as InputError).issues[0]!.path).toBe('appId');
      }
      expect(Object.values(sandbox.counters.requests).reduce((a, b) => a + b, 0)).toBe(0);
      expect(tokens.calls).toHaveLength(0);
    },
  );

  it('rejects a template id that would leave its route', async () => {
    const error = await failure(client().getTemplate('../apps'));
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toContain('templateId');
  });
});

describe('error envelopes', () => {
  it('turns 410 gone into the retired-version message', async () => {
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 410, code: 'gone', message: 'API v1 is archived', times: 1 });
    const error = (await failure(client().listApps())) as ApiError;
    expect(error.code).toBe('ERR_API_GONE');
    expect(error.message).toMatch(/^drio has retired this API version \(API v1 is archived\)\. .*\(request id [0-9a-f-]{36}\)$/);
  });

  it('accepts request_id as well as requestId, and a non-JSON error page', async () => {
    const scripted = await startScriptedServer((req) =>
      req.url.endsWith('/templates')
        ? { status: 403, body: JSON.stringify({ error: { code: 'forbidden', message: 'Nope', request_id: 'req_snake' } }) }
        : { status: 502, body: '<html><body>Bad gateway</body></html>', headers: { 'content-type': 'text/html', 'x-request-id': 'req_header' } },
    );
    try {
      const drio = client({ apiUrl: scripted.url });
      const snake = (await failure(drio.listTemplates())) as ApiError;
      expect([snake.status, snake.apiCode, snake.requestId]).toEqual([403, 'forbidden', 'req_snake']);
      const html = (await failure(drio.getTemplate('tpl_x'))) as ApiError;
      expect(html).toBeInstanceOf(ApiError);
      expect([html.status, html.apiCode, html.requestId]).toEqual([502, 'http_502', 'req_header']);
      expect(html.message).toBe("drio error 502 http_502: Bad Gateway (the response was not drio's JSON error format) (request id req_header)");
    } finally {
      await scripted.close();
    }
  });

  it('reports a broken 200 body and an unexpected shape as InvalidResponseError', async () => {
    sandbox.fail('GET /api/v1/apps', { kind: 'malformed', times: 1 });
    expect(await failure(client().listApps())).toBeInstanceOf(InvalidResponseError);
    const scripted = await startScriptedServer(() => ({ status: 200, body: JSON.stringify({ templates: 'none' }) }));
    try {
      const error = (await failure(client({ apiUrl: scripted.url }).listTemplates())) as InvalidResponseError;
      expect(error).toBeInstanceOf(InvalidResponseError);
      expect(error.message).toBe('drio sent an unexpected response for the template list.');
    } finally {
      await scripted.close();
    }
  });
});

describe('retries', () => {
  it('retries a GET after 429 honouring Retry-After', async () => {
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 429, retryAfter: 1, times: 1 });
    const started = Date.now();
    expect(await client().listApps()).toContainEqual(expect.objectContaining({ id: 'app_123' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(requests('GET /api/v1/apps')).toBe(2);
  });

  it('retries 503 with backoff, at most three attempts in all', async () => {
    sandbox.fail('GET /api/v1/templates', { kind: 'status', status: 503, times: 2 });
    expect(await client().listTemplates()).toHaveLength(4);
    expect(requests('GET /api/v1/templates')).toBe(3);

    sandbox.resetCounters();
    sandbox.fail('GET /api/v1/templates', { kind: 'status', status: 503, times: 5 });
    const error = (await failure(client().listTemplates())) as ApiError;
    expect(error.status).toBe(503);
    expect(requests('GET /api/v1/templates')).toBe(3);
  });

  it('fails at once when Retry-After is longer than it is willing to wait', async () => {
    sandbox.fail('GET /api/v1/apps/:appId', { kind: 'status', status: 429, retryAfter: 120, times: 1 });
    const started = Date.now();
    const error = (await failure(client().getApp('app_123'))) as ApiError;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.status).toBe(429);
    expect(error.message).toContain('drio is busy and asked to wait 120 s before trying again; try again later');
    expect(error.requestId).toBeTruthy();
    expect(requests('GET /api/v1/apps/:appId')).toBe(1);
  });

  it('never retries a command or a create', async () => {
    sandbox.fail('POST /api/v1/apps/:appId/commands', { kind: 'status', status: 503, retryAfter: 0, times: 1 });
    expect(((await failure(client().runAppCommand('app_123', { command: 'deploy' }))) as ApiError).status).toBe(503);
    sandbox.fail('POST /api/v1/apps/:appId/commands', { kind: 'drop', times: 1 });
    expect(((await failure(client().runAppCommand('app_123', { command: 'deploy' }))) as NetworkError).code).toBe('ERR_NETWORK');
    expect(requests('POST /api/v1/apps/:appId/commands')).toBe(2);

    sandbox.fail('POST /api/v1/apps', { kind: 'status', status: 429, retryAfter: 0, times: 1 });
    expect(((await failure(client().createApp({ name: 'Once', templateId: 'tpl_blank' }))) as ApiError).status).toBe(429);
    expect(requests('POST /api/v1/apps')).toBe(1);
  });

  it('retries a GET whose connection was reset', async () => {
    sandbox.fail('GET /api/v1/apps/:appId/tools', { kind: 'drop', times: 1 });
    expect(await client().listAppTools('app_123')).toHaveLength(3);
    expect(requests('GET /api/v1/apps/:appId/tools')).toBe(2);
  });
});

describe('tokens', () => {
  it('after a 401 asks the session once for a fresh token, naming the rejected one', async () => {
    let first = true;
    const tokens = recordingTokens(async (options) => {
      if (first) {
        first = false;
        return 'not-a-valid-token';
      }
      return signedIn.session.getAccessToken(options);
    });
    expect(await client({ tokens }).listApps()).toContainEqual(expect.objectContaining({ id: 'app_123' }));
    expect(tokens.calls.map((c) => c?.rejectedToken)).toEqual([undefined, 'not-a-valid-token']);
    expect(requests('GET /api/v1/apps')).toBe(2);
  });

  it('gives up after one refresh when drio keeps answering 401', async () => {
    const tokens = recordingTokens(async () => 'still-not-valid');
    const error = (await failure(client({ tokens }).runAppCommand('app_123', { command: 'deploy' }))) as ApiError;
    expect(error.status).toBe(401);
    expect(error.apiCode).toBe('unauthorized');
    expect(tokens.calls).toHaveLength(2);
    expect(requests('POST /api/v1/apps/:appId/commands')).toBe(2);
  });

  it('sends User-Agent drio-mcp/<version> and no Authorization on public routes', async () => {
    const scripted = await startScriptedServer((req) =>
      req.url.endsWith('/me')
        ? { status: 200, body: JSON.stringify({ user: { id: 'u1' } }) }
        : { status: 200, body: JSON.stringify({ templates: [] }) },
    );
    try {
      const drio = client({ apiUrl: scripted.url, tokens: recordingTokens(async () => 'bearer-for-scripted') });
      await drio.listTemplates();
      await drio.getMe();
      expect(scripted.requests[0]!.headers['user-agent']).toBe(`drio-mcp/${VERSION}`);
      expect(scripted.requests[0]!.headers.authorization).toBeUndefined();
      expect(scripted.requests[1]!.headers.authorization).toBe('Bearer bearer-for-scripted');
    } finally {
      await scripted.close();
    }
  });
});

describe('network failures', () => {
  it('times out a stalled request with a clear message and does not retry it', async () => {
    sandbox.fail('GET /api/v1/apps', { kind: 'delay', ms: 1500, times: 1 });
    const error = (await failure(client({ timeoutMs: 300 }).listApps())) as NetworkError;
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.code).toBe('ERR_TIMEOUT');
    expect(error.message).toBe(`Could not reach drio at ${sandbox.apiUrl} (no answer within 0.3 s).`);
    expect(requests('GET /api/v1/apps')).toBe(1);
  });

  it('names the URL and the reason when nothing listens', async () => {
    const apiUrl = `http://127.0.0.1:${await closedPort()}`;
    const error = (await failure(client({ apiUrl }).listTemplates())) as NetworkError;
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toBe(`Could not reach drio at ${apiUrl} (connection refused).`);
  });

  it('stops when the caller cancels', async () => {
    sandbox.fail('GET /api/v1/templates', { kind: 'delay', ms: 2000, times: 1 });
    const controller = new AbortController();
    const pending = client().listTemplates({ signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await failure(pending);
    expect(error).not.toBeInstanceOf(DrioMcpError);
    expect((error as Error).name).toBe('AbortError');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, ignores garbage', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
