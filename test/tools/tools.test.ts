// Every tool through the SDK Client over InMemoryTransport, against the sandbox: success and failure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { leakedSecrets } from '../helpers/config.js';
import { startHarness, textOf, type Harness } from '../helpers/harness.js';

let sandbox: Sandbox;
let h: Harness;

beforeAll(async () => {
  sandbox = await startSandbox();
  h = await startHarness(sandbox);
  await h.client.listTools(); // the Client then checks every structuredContent against its outputSchema
});
afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});
afterEach(() => sandbox.clearFailures());

const REQUEST_ID = /\(request id [0-9a-f-]{36}\)/;

describe('auth_status', () => {
  it('reports signed out without starting a sign-in or touching the network', async () => {
    const result = await h.call('auth_status');
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ apiUrl: sandbox.apiUrl, signedIn: false, canRefresh: false });
    expect(textOf(result)).toContain(`Not signed in to drio at ${sandbox.apiUrl}.`);
    expect(h.opens).toHaveLength(0);
    expect(sandbox.counters.requests).toEqual({});
    expect(sandbox.counters.registrations).toBe(0);
  });
});

describe('list_templates and get_template (public)', () => {
  it('work without signing in', async () => {
    const list = await h.call('list_templates');
    expect(list.isError).toBeFalsy();
    expect((list.structuredContent as { templates: unknown[] }).templates).toHaveLength(4);
    expect(textOf(list)).toBe(
      [
        '4 templates:',
        '- tpl_blank: Blank app (general) — Start from scratch.',
        '- tpl_support_desk: Support desk (support) — Answer customer questions from your help center.',
        '- tpl_store_catalog: Store catalog (commerce) — Let assistants browse and compare your products.',
        '- tpl_booking: Booking (scheduling) — Check availability and book appointments.',
      ].join('\n'),
    );
    const one = await h.call('get_template', { templateId: 'tpl_booking' });
    expect(one.structuredContent).toMatchObject({ template: { id: 'tpl_booking', name: 'Booking' } });
    expect(textOf(one)).toBe('Template tpl_booking: Booking\ncategory: scheduling\nCheck availability and book appointments.');
    expect(h.opens).toHaveLength(0);
    expect(sandbox.counters.registrations).toBe(0);
    expect(sandbox.counters.grants).toEqual({});
  });

  it('report an unknown template with drio’s request id', async () => {
    const result = await h.call('get_template', { templateId: 'tpl_nope' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio error 404 not_found: Template not found \(request id [0-9a-f-]{36}\)$/);
  });

  it('report drio being unavailable after the retries', async () => {
    sandbox.fail('GET /api/v1/templates', { kind: 'status', status: 503, times: 3 });
    const result = await h.call('list_templates');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio error 503 service_unavailable: Sandbox forced failure \(503\) \(request id [0-9a-f-]{36}\)$/);
  });

  it('name an invalid templateId', async () => {
    const result = await h.call('get_template', { templateId: '../apps' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Invalid arguments: templateId: may contain only letters, digits, "_", "-", "." and ":", and must start with a letter or digit');
  });
});

describe('whoami', () => {
  it('signs in on first use and names the account', async () => {
    const result = await h.call('whoami');
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('Signed in to drio as Ada Lovelace <ada@example.com> (user_ada).');
    expect(result.structuredContent).toMatchObject({ user: { id: 'user_ada', email: 'ada@example.com' } });
    expect(h.opens).toHaveLength(1);
  });

  it('reports a drio server error with its request id', async () => {
    sandbox.fail('GET /api/v1/me', { kind: 'status', status: 500, message: 'Database unavailable', times: 1 });
    const result = await h.call('whoami');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio error 500 internal_error: Database unavailable \(request id [0-9a-f-]{36}\)$/);
  });
});

describe('auth_status once signed in', () => {
  it('shows expiry and refresh, never a token', async () => {
    const result = await h.call('auth_status');
    expect(result.structuredContent).toMatchObject({ signedIn: true, canRefresh: true, issuer: sandbox.issuer });
    expect(textOf(result)).toContain(`Signed in to drio at ${sandbox.apiUrl}.`);
    expect(textOf(result)).toContain('A refresh token is stored, so expiry is handled silently.');
    expect(leakedSecrets(sandbox.issuedSecrets(), JSON.stringify(result))).toEqual([]);
  });
});

describe('list_apps', () => {
  it('lists the seeded apps in one line each', async () => {
    const result = await h.call('list_apps');
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe(
      [
        '3 apps:',
        '- app_123 "Analytical Engine", slug analytical-engine, published, enabled, v3',
        '- app_support "Acme Support", slug acme-support, published, enabled, v3',
        '- app_catalog "Bernoulli Store", slug bernoulli-store, draft, disabled, v1',
      ].join('\n'),
    );
    expect((result.structuredContent as { apps: Array<{ id: string }> }).apps.map((a) => a.id)).toEqual(['app_123', 'app_support', 'app_catalog']);
  });

  it('turns 410 into the retired-version message', async () => {
    sandbox.fail('GET /api/v1/apps', { kind: 'status', status: 410, code: 'gone', message: 'v1 is archived', times: 1 });
    const result = await h.call('list_apps');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio has retired this API version \(v1 is archived\)\. Update drio-mcp .*\(request id [0-9a-f-]{36}\)$/);
  });
});

describe('get_app', () => {
  it('describes one app', async () => {
    const result = await h.call('get_app', { appId: 'app_123' });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe(
      [
        'Analytical Engine (app_123)',
        'state: published, enabled, v3',
        'slug: analytical-engine · public MCP id: mcp_analyticalengine · template: tpl_blank',
        'company: https://analytical-engine.example.com',
        'description: Analytical Engine (sandbox app)',
        'server instructions: You are the Analytical Engine assistant. Be concise.',
        'branding: primary #3b5bdb, accent #f5a623, background #ffffff, font Inter, radius 8',
      ].join('\n'),
    );
    expect(result.structuredContent).toMatchObject({ app: { id: 'app_123', createdAt: '2025-01-15T10:00:00.000Z' } });
  });

  it('reports a missing app with the request id', async () => {
    const result = await h.call('get_app', { appId: 'app_foreign' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio error 404 not_found: App not found \(request id [0-9a-f-]{36}\)$/);
  });

  it('names missing and malformed arguments', async () => {
    sandbox.resetCounters();
    expect(textOf(await h.call('get_app', {}))).toBe('Invalid arguments: appId: is required');
    const bad = await h.call('get_app', { appId: '../me' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toContain('Invalid arguments: appId: may contain only letters');
    expect(textOf(await h.call('get_app', { appId: 42 }))).toBe('Invalid arguments: appId: Invalid input: expected string, received number');
    expect(sandbox.counters.requests).toEqual({});
  });
});

describe('get_app_config', () => {
  it('summarises the config and returns it whole', async () => {
    const result = await h.call('get_app_config', { appId: 'app_123' });
    expect(result.isError).toBeFalsy();
    const text = textOf(result);
    expect(text).toContain('Config of app app_123:');
    expect(text).toContain('- authConnections: 2 (HubSpot CRM, Inventory API key)');
    expect(text).toContain('- tools: 3 (Search items, Get item, Create ticket)');
    expect(text).toContain('- widgets: 1 (Item list)');
    expect(text).toContain('- integrations: 1 (Inventory REST API)');
    expect(text.split('\n').length).toBeLessThan(20);
    const config = (result.structuredContent as { config: Record<string, unknown[]> }).config;
    expect(config.tools).toHaveLength(3);
  });

  it('says it could not reach drio when the connection keeps dropping', async () => {
    sandbox.fail('GET /api/v1/apps/:appId/config', { kind: 'drop', times: 3 });
    const result = await h.call('get_app_config', { appId: 'app_123' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(new RegExp(`^Could not reach drio at ${sandbox.apiUrl.replace(/\./g, '\\.')} \\(.+\\)\\.$`));
  });
});

describe('list_app_tools and list_app_widgets', () => {
  it('list the parts of an app', async () => {
    const tools = await h.call('list_app_tools', { appId: 'app_123' });
    expect(textOf(tools)).toBe(
      [
        '3 tools in app app_123:',
        '- search_items "Search items" integration, enabled, binding bound, widget wdg_app_123_list — Search items for Analytical Engine',
        '- get_item "Get item" integration, enabled, binding bound — Get item for Analytical Engine',
        '- create_ticket "Create ticket" integration, enabled, binding bound — Create ticket for Analytical Engine',
      ].join('\n'),
    );
    const widgets = await h.call('list_app_widgets', { appId: 'app_123' });
    expect(textOf(widgets)).toBe('1 widget in app app_123:\n- item_list "Item list" list, inline, for tool tool_app_123_search_items');
    expect(widgets.structuredContent).toMatchObject({ appId: 'app_123', widgets: [{ config: { maxItems: 5 } }] });
  });

  it('report drio refusing access', async () => {
    sandbox.fail('GET /api/v1/apps/:appId/tools', { kind: 'status', status: 403, message: 'You cannot see this app', times: 1 });
    const result = await h.call('list_app_tools', { appId: 'app_123' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio error 403 forbidden: You cannot see this app \(request id [0-9a-f-]{36}\)$/);
  });

  it('report a broken response', async () => {
    sandbox.fail('GET /api/v1/apps/:appId/widgets', { kind: 'malformed', times: 1 });
    const result = await h.call('list_app_widgets', { appId: 'app_support' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('drio sent an unexpected response for the widgets of app app_support.');
  });
});

describe('run_app_command', () => {
  it('validates and deploys', async () => {
    const validate = await h.call('run_app_command', { appId: 'app_support', command: 'validate' });
    expect(validate.isError).toBeFalsy();
    expect(textOf(validate)).toMatch(/^validate on app app_support: succeeded \(run cmd_\w+\)\.\nok: true\nerrorCount: 0\nwarningCount: 1\nissues: \[\{"severity":"warning"/);

    const deploy = await h.call('run_app_command', { appId: 'app_support', command: 'deploy', args: { note: 'from a test' } });
    expect(deploy.isError).toBeFalsy();
    expect(textOf(deploy)).toMatch(/^deploy on app app_support: succeeded \(run cmd_\w+\)\.\ndeploymentId: dep_\w+\nversion: 4\nurl: https:\/\/mcp\.getdrio\.com\/mcp_acmesupport$/);
    expect(deploy.structuredContent).toMatchObject({ appId: 'app_support', command: { command: 'deploy', status: 'succeeded', result: { version: 4 } } });
  });

  it('passes drio’s answer to an unknown command through, with details', async () => {
    const result = await h.call('run_app_command', { appId: 'app_123', command: 'explode' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(REQUEST_ID);
    expect(textOf(result)).toMatch(/^drio error 400 bad_request: Unknown command "explode" \(request id [0-9a-f-]{36}\) Details: \{"command":"explode","known":\["deploy","validate"\]\}$/);
  });

  it('names invalid arguments field by field and sends nothing', async () => {
    const before = sandbox.counters.requests['POST /api/v1/apps/:appId/commands'] ?? 0;
    const result = await h.call('run_app_command', { appId: 'app 123', command: '', args: ['not', 'an', 'object'] });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/^Invalid arguments: /);
    expect(text).toContain('appId: may contain only letters');
    expect(text).toContain('command: is required, e.g. "deploy" or "validate"');
    expect(text).toContain('args: Invalid input: expected record, received array');
    expect(sandbox.counters.requests['POST /api/v1/apps/:appId/commands'] ?? 0).toBe(before);
  });

  it('does not retry a command drio could not take', async () => {
    sandbox.resetCounters();
    sandbox.fail('POST /api/v1/apps/:appId/commands', { kind: 'status', status: 503, retryAfter: 0, times: 1 });
    const result = await h.call('run_app_command', { appId: 'app_123', command: 'deploy' });
    expect(result.isError).toBe(true);
    expect(sandbox.counters.requests['POST /api/v1/apps/:appId/commands']).toBe(1);
  });
});

describe('create_app', () => {
  it('creates a draft app from a template', async () => {
    const result = await h.call('create_app', {
      name: 'Lovelace Notes',
      templateId: 'tpl_support_desk',
      slug: 'lovelace-notes',
      companyUrl: 'https://lovelace.example.com',
      branding: { primaryColor: '#123456', borderRadius: 4 },
    });
    expect(result.isError).toBeFalsy();
    const app = (result.structuredContent as { app: { id: string } }).app;
    expect(app).toMatchObject({ name: 'Lovelace Notes', slug: 'lovelace-notes', status: 'draft', companyUrl: 'https://lovelace.example.com', branding: { primaryColor: '#123456', borderRadius: 4 } });
    expect(textOf(result)).toBe(
      `Created app ${app.id} "Lovelace Notes" (slug lovelace-notes) from template tpl_support_desk; draft, disabled, v1.\n` +
        'It is not live until you run the deploy command (run_app_command with command "deploy").',
    );
  });

  it('names each invalid argument', async () => {
    const result = await h.call('create_app', { name: '  ', templateId: 'tpl_blank', slug: 'Not A Slug', companyUrl: 'ftp://x', branding: { logoUrl: 'x' } });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toContain('name: is required');
    expect(text).toContain('slug: must be lowercase letters and digits separated by single dashes');
    expect(text).toContain('companyUrl: must be an http(s) URL');
    expect(text).toContain('branding: unknown field(s) "logoUrl"');
  });

  it('passes drio’s validation error through with the fields it names', async () => {
    const result = await h.call('create_app', { name: 'Ghost', templateId: 'tpl_missing' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^drio error 422 validation_error: Invalid app \(request id [0-9a-f-]{36}\) Details: \{"fields":\[\{"field":"templateId","message":"Unknown template \\"tpl_missing\\""\}\]\}$/);
  });
});

describe('secrets', () => {
  it('never shows a token in any result, log line or notification', () => {
    expect(sandbox.issuedSecrets().length).toBeGreaterThan(0);
    expect(leakedSecrets(sandbox.issuedSecrets(), h.transcript())).toEqual([]);
  });
});
