// The server around the tools: no network before a tool needs it, sign-in on first use (browser or
// URL elicitation), bounded waits with progress, logging notifications, and the error funnel.
import { ElicitRequestSchema, ElicitationCompleteNotificationSchema, type ElicitRequest, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDrioClient, type DrioClient } from '../../src/drio/index.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { TOOLS } from '../../src/tools/index.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { leakedSecrets } from '../helpers/config.js';
import { closedPort } from '../helpers/scripted-server.js';
import { startHarness, textOf, type Harness } from '../helpers/harness.js';

let sandbox: Sandbox;
const harnesses: Harness[] = [];

beforeAll(async () => {
  sandbox = await startSandbox();
});
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    expect(leakedSecrets(sandbox.issuedSecrets(), h.transcript())).toEqual([]);
    await h.close();
  }
  sandbox.clearFailures();
  sandbox.setAccessTokenTtl(3600);
  sandbox.resetCounters();
});
afterAll(async () => {
  await sandbox?.close();
});

async function harness(options: Parameters<typeof startHarness>[1] = {}): Promise<Harness> {
  const h = await startHarness(sandbox, options);
  harnesses.push(h);
  return h;
}

const EXPECTED_TOOLS = [
  'list_apps',
  'get_app',
  'get_app_config',
  'list_app_tools',
  'list_app_widgets',
  'run_app_command',
  'create_app',
  'list_templates',
  'get_template',
  'whoami',
  'auth_status',
];

describe('start-up', () => {
  it('answers initialize and tools/list without network or the auth layer', async () => {
    const h = await harness();
    expect(h.client.getServerVersion()).toMatchObject({ name: 'drio-mcp' });
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(EXPECTED_TOOLS);
    expect(h.authCreated()).toBe(0);
    expect(sandbox.counters.requests).toEqual({});
    expect(sandbox.counters.registrations + sandbox.counters.authorizations).toBe(0);
  });

  it('lists every tool with a title, a description, all four hints, described arguments and an output schema', async () => {
    const h = await harness();
    const { tools } = await h.client.listTools();
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(80);
      expect(Object.keys(tool.annotations ?? {}).sort(), tool.name).toEqual(['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint', 'title']);
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${tool.name}.${field}`).toBeTruthy();
      }
    }
    const hints = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    expect(hints.run_app_command).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true });
    expect(hints.create_app).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true });
    expect(hints.auth_status).toMatchObject({ readOnlyHint: true, openWorldHint: false });
    for (const name of ['list_apps', 'get_app', 'get_app_config', 'list_app_tools', 'list_app_widgets', 'list_templates', 'get_template', 'whoami']) {
      expect(hints[name], name).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });
    }
    const runCommand = tools.find((t) => t.name === 'run_app_command')!;
    expect(runCommand.inputSchema.required).toEqual(['appId', 'command']);
    const createApp = tools.find((t) => t.name === 'create_app')!;
    expect(createApp.inputSchema.required).toEqual(['name', 'templateId']);
    expect(Object.keys(createApp.inputSchema.properties ?? {})).toEqual(['name', 'templateId', 'slug', 'companyUrl', 'branding']);
    expect(TOOLS).toHaveLength(11);
  });
});

describe('sign-in on first use', () => {
  it('opens one browser tab for a storm of concurrent calls', async () => {
    const h = await harness();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => h.call(i % 2 ? 'list_apps' : 'get_app', i % 2 ? {} : { appId: 'app_123' })));
    expect(results.filter((r) => r.isError)).toEqual([]);
    expect(h.opens).toHaveLength(1);
    expect(sandbox.counters.authorizations).toBe(1);
    expect(sandbox.counters.registrations).toBe(1);
    // The URL also reached stderr and the client as a logging notification.
    expect(h.stderr.join('')).toContain(h.opens[0]!);
    expect(h.logs.some((l) => l.level === 'notice' && String(l.data).includes(h.opens[0]!))).toBe(true);
  });

  it('answers with the URL when the sign-in takes longer than the wait, then succeeds on the next call', async () => {
    const h = await harness({ browser: 'ignore', config: { loginWaitMs: 300 } });
    const started = Date.now();
    const pending = await h.call('list_apps');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(pending.isError).toBe(true);
    expect(textOf(pending)).toBe(`Open this URL to sign in to drio, then ask again: ${h.opens[0]}`);

    // The flow keeps waiting in the background: the user signs in, the next call just works.
    await sandbox.completeLogin(h.opens[0]!);
    const again = await h.call('list_apps');
    expect(again.isError).toBeFalsy();
    expect(h.opens).toHaveLength(1);
  });

  it('sends progress while it waits for the sign-in', async () => {
    const h = await harness({ browser: 'ignore', config: { loginWaitMs: 2400 }, server: { progressIntervalMs: 200 } });
    const progress: Progress[] = [];
    const result = await h.client.callTool({ name: 'whoami', arguments: {} }, undefined, { onprogress: (p) => void progress.push(p) });
    expect(result.isError).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toMatchObject({ total: 3, message: `Waiting for you to sign in to drio in the browser: ${h.opens[0]}` });
    expect(progress.map((p) => p.progress)).toEqual([...progress.map((p) => p.progress)].sort((a, b) => a - b));
  });

  it('says so when the sign-in was denied in the browser', async () => {
    const h = await harness({ browser: 'deny' });
    const result = await h.call('list_apps');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Sign-in to drio was denied in the browser, so drio-mcp is not signed in. Ask again to start a new sign-in.');
    h.browser.behaviour = 'complete';
    expect((await h.call('list_apps')).isError).toBeFalsy();
    expect(h.opens).toHaveLength(2);
  });

  it('asks through URL-mode elicitation instead of opening a browser when the client supports it', async () => {
    const h = await harness({ clientCapabilities: { elicitation: { url: {} } } });
    const asked: ElicitRequest['params'][] = [];
    const completed: string[] = [];
    h.client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      if (request.params.mode === 'url') void sandbox.completeLogin(request.params.url);
      return { action: 'accept' };
    });
    h.client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));

    const result = await h.call('list_apps');
    expect(result.isError).toBeFalsy();
    expect(h.opens).toHaveLength(0);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ mode: 'url', message: expect.stringContaining('Sign in to drio') });
    const url = (asked[0] as { url: string }).url;
    expect(url.startsWith(`${sandbox.issuer}/`)).toBe(true);
    expect(h.stderr.join('')).toContain(url);
    await new Promise((r) => setTimeout(r, 20));
    expect(completed).toEqual([(asked[0] as { elicitationId: string }).elicitationId]);
  });

  it('falls back to the browser when the client cannot show the URL', async () => {
    const h = await harness({ clientCapabilities: { elicitation: { url: {} } } });
    h.client.setRequestHandler(ElicitRequestSchema, async () => {
      throw new Error('no UI for this');
    });
    expect((await h.call('whoami')).isError).toBeFalsy();
    expect(h.opens).toHaveLength(1);
  });

  it('refreshes an expired token silently, without a browser', async () => {
    sandbox.setAccessTokenTtl(2);
    const h = await harness();
    expect((await h.call('list_apps')).isError).toBeFalsy();
    await new Promise((r) => setTimeout(r, 2100));
    expect((await h.call('get_app', { appId: 'app_123' })).isError).toBeFalsy();
    expect(sandbox.counters.grants.refresh_token).toBeGreaterThanOrEqual(1);
    expect(h.opens).toHaveLength(1);
  });

  it('starts a new sign-in when the grant was revoked', async () => {
    const h = await harness();
    expect((await h.call('list_apps')).isError).toBeFalsy();
    await sandbox.revokeAllGrants();
    const result = await h.call('list_apps');
    expect(result.isError).toBeFalsy();
    expect(h.opens).toHaveLength(2);
    expect(sandbox.counters.authorizations).toBe(2);
  });
});

describe('logging', () => {
  it('forwards log records as notifications and honours logging/setLevel', async () => {
    const h = await harness();
    sandbox.fail('GET /api/v1/templates', { kind: 'status', status: 503, retryAfter: 0, times: 1 });
    await h.call('list_templates');
    expect(h.logs.some((l) => l.level === 'info' && String(l.data).includes('drio is busy (503)'))).toBe(true);

    await h.client.setLoggingLevel('error');
    const before = h.logs.length;
    sandbox.fail('GET /api/v1/templates', { kind: 'status', status: 503, retryAfter: 0, times: 1 });
    await h.call('list_templates');
    expect(h.logs.slice(before)).toEqual([]);
    expect(h.stderr.join('')).toMatch(/drio is busy \(503\)[\s\S]*drio is busy \(503\)/);
  });
});

describe('errors', () => {
  it('answers every tool with a start-up configuration error, and still lists tools', async () => {
    const h = await harness({ server: { startupError: new ConfigError('DRIO_API_URL must use https (plain http is only allowed for 127.0.0.1, localhost or [::1]): http://drio.example') } });
    expect((await h.client.listTools()).tools).toHaveLength(11);
    for (const name of ['list_templates', 'auth_status']) {
      const result = await h.call(name);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        "drio-mcp is not configured correctly: DRIO_API_URL must use https (plain http is only allowed for 127.0.0.1, localhost or [::1]): http://drio.example Fix it in your MCP client's settings for drio-mcp and restart it.",
      );
    }
    expect(h.authCreated()).toBe(0);
  });

  it('keeps unexpected failures short in the result, with the stack on stderr', async () => {
    const h = await harness({
      server: {
        createDrio: (tokens) => {
          const real = createDrioClient({ apiUrl: sandbox.apiUrl, tokens, timeoutMs: 5000, logger: silentLogger });
          return {
            ...real,
            listTemplates: async () => {
              throw new TypeError('cannot read properties of undefined (reading "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl")');
            },
          } satisfies DrioClient;
        },
      },
    });
    const result = await h.call('list_templates');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('drio-mcp hit an unexpected error (TypeError) while running list_templates. The details were written to its log (stderr).');
    const stderr = h.stderr.join('');
    expect(stderr).toContain('unexpected failure in list_templates: TypeError: cannot read properties of undefined');
    expect(stderr).toContain('at ');
    expect(stderr).not.toContain('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ');
  });

  it('reports an unreachable drio with its URL', async () => {
    const apiUrl = `http://127.0.0.1:${await closedPort()}`;
    const h = await harness({ config: { apiUrl } });
    const result = await h.call('list_templates');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(`Could not reach drio at ${apiUrl} (connection refused).`);
  });

  it('rejects an unknown tool as a protocol error', async () => {
    const h = await harness();
    await expect(h.client.callTool({ name: 'delete_everything', arguments: {} })).rejects.toThrow(/Tool delete_everything not found/);
  });
});
