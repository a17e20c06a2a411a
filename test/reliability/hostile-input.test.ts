/**
 * Reliability 6, hostile input: every tool's arguments fuzzed with wrong types, missing fields, 1 MB strings, path
 * tricks, unicode (RTL, NUL, lone surrogates, full-width digits), arrays and objects where strings belong, and unknown
 * fields, plus seeded random strings and JSON values. Never a crash; a rejected argument is an `isError` naming the
 * field, and no argument ever steers a request to a route other than the tool's own (no `GET /api/v1/me` from an appId).
 *
 * The bulk runs in-process (SDK Client over InMemoryTransport, the real server and auth layer, against the sandbox);
 * the heaviest cases also go through the built server over stdio, where they must survive JSON framing.
 */
import type { Tool as ListedTool } from '@modelcontextprotocol/sdk/types.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOLS } from '../../src/tools/index.js';
import { assertFreshBuild, spawnRaw } from '../helpers/built-server.js';
import { tempDir } from '../helpers/config.js';
import { startHarness, textOf, type Harness } from '../helpers/harness.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { cliLogin, createTranscript, drioEnv, expectNoLeakedSecrets, seededRandom, spawnServer } from './support.js';

/** Change it to fuzz other cases; every run with one seed fuzzes the same ones. */
const SEED = 0x5eed_d210;
const RANDOM_CASES_PER_FIELD = 25;
const MB = 1_000_000;

/** Valid arguments for every tool: each case changes exactly one thing. A new tool must be added here. */
const BASE: Record<string, Record<string, unknown>> = {
  list_apps: {},
  get_app: { appId: 'app_123' },
  get_app_config: { appId: 'app_123' },
  list_app_tools: { appId: 'app_123' },
  list_app_widgets: { appId: 'app_123' },
  run_app_command: { appId: 'app_123', command: 'validate', args: { strict: true } },
  create_app: { name: 'Fuzz App', templateId: 'tpl_blank', slug: 'fuzz-app', companyUrl: 'https://fuzz.example', branding: { primaryColor: '#123456' } },
  list_templates: {},
  get_template: { templateId: 'tpl_blank' },
  whoami: {},
  auth_status: {},
};

/** The only routes (sandbox counter keys) each tool may reach, whatever its arguments. */
const ROUTES: Record<string, string[]> = {
  list_apps: ['GET /api/v1/apps'],
  get_app: ['GET /api/v1/apps/:appId'],
  get_app_config: ['GET /api/v1/apps/:appId/config'],
  list_app_tools: ['GET /api/v1/apps/:appId/tools'],
  list_app_widgets: ['GET /api/v1/apps/:appId/widgets'],
  run_app_command: ['POST /api/v1/apps/:appId/commands'],
  create_app: ['POST /api/v1/apps'],
  list_templates: ['GET /api/v1/templates'],
  get_template: ['GET /api/v1/templates/:templateId'],
  whoami: ['GET /api/v1/me'],
  auth_status: [],
};

/** Fields drio puts in a URL path: whatever is not a plain id must be refused before any request. */
const PATH_FIELDS = new Set(['appId', 'templateId']);
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

const PATH_TRICKS = [
  '../me', '..', '.', '...', 'a/b', 'app_123/../../me', '/api/v1/me', 'app_123/', '%2e%2e', '%2e%2e%2fme', '..%2fme', '%2F',
  'app_123?x=1', '?x=1', 'app_123#', '#', 'app_123#/../me', '\\..\\me', ' app_123', 'app_123 ', '', 'http://evil.example/x',
  '//evil.example', 'app_123%00', 'app_123\r\nX-Injected: 1',
  // Plain ids that merely look like other routes: they must stay on the tool's own route.
  'me', 'apps', 'app_123.', 'a..b', 'app_123:me', 'config', 'tpl_blank',
];
const UNICODE = [
  '\u202Eapp_123', 'app_123\u0000', 'app\u0000/../me', 'ａｐｐ＿１２３', '𝕒𝕡𝕡', 'app_١٢٣', '\uFEFFapp_123', 'app\u200B_123', 'app_\uD800',
  'é', '😀', '\u0301', 'İ', 'ǅ', '\u2028', 'app_123\u2215me', 'app_123\uFF0Fme',
];
/** 100 000 arrays deep: JSON.parse takes it, but JSON.stringify overflows the stack from a few thousand levels. */
const DEEP: unknown = (() => {
  let value: unknown = 'bottom';
  for (let i = 0; i < 100_000; i++) value = [value];
  return value;
})();
const WRONG_TYPES: unknown[] = [42, 0, -1, 1.5, 1e308, true, false, null, [], ['app_123'], {}, { value: 'app_123' }, { $ne: null }, [[[]]], DEEP, { deep: DEEP }];

/** A short label for a value, even one too deep for JSON.stringify. */
function label(value: unknown): string {
  if (value === DEEP) return '100000-deep array';
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 40);
  } catch {
    return `unprintable ${typeof value}`;
  }
}
const UNKNOWN_FIELDS = ['extra', 'appID', 'app_id', 'toString', 'constructor', 'hasOwnProperty', 'appId ', ''];

const ALPHABET = ['a', 'Z', '0', '9', '_', '-', '.', ':', '/', '\\', '%', '?', '#', '&', '=', ' ', '\t', '\n', '\u0000', '\u202E', 'é', '😀', '\uD800', '"', "'", '<', '>', '{', '}', '*', '~', '+', '@'];

function randomString(rand: () => number): string {
  const length = Math.floor(rand() ** 2 * 200);
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

function randomJson(rand: () => number, depth = 0): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) return [randomString(rand), Math.floor(rand() * 1e6) - 5e5, rand() < 0.5, null, rand() * 1e9][Math.floor(rand() * 5)];
  if (r < 0.65) return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [randomString(rand).slice(0, 12), randomJson(rand, depth + 1)]));
}

interface Case {
  name: string;
  tool: string;
  args: Record<string, unknown>;
  /** The argument the case is about (dotted for nested fields). */
  field: string;
  /** Must be refused before any request, with `field` named in the message. */
  mustReject: boolean;
}

type JsonSchema = { type?: string; properties?: Record<string, JsonSchema>; required?: string[]; anyOf?: JsonSchema[] };

function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = field.split('.');
  if (rest.length === 0) return { ...base, [head!]: value };
  return { ...base, [head!]: withField((base[head!] as Record<string, unknown>) ?? {}, rest.join('.'), value) };
}

function withoutField(base: Record<string, unknown>, field: string): Record<string, unknown> {
  const { [field]: _dropped, ...rest } = base;
  return rest;
}

/** Every fuzz case for one tool, from its advertised input schema. */
function casesFor(tool: ListedTool, rand: () => number): Case[] {
  const base = BASE[tool.name]!;
  const cases: Case[] = [];
  const add = (field: string, kind: string, args: Record<string, unknown>, mustReject: boolean) =>
    cases.push({ name: `${tool.name} ${field || '(arguments)'} ${kind} #${cases.length}`, tool: tool.name, args, field, mustReject });

  const visit = (schema: JsonSchema, prefix: string) => {
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      const field = prefix ? `${prefix}.${key}` : key;
      const types = prop.anyOf ? prop.anyOf.map((p) => p.type) : [prop.type];
      const set = (value: unknown, kind: string, mustReject: boolean) => add(field, kind, withField(base, field, value), mustReject);
      for (const value of WRONG_TYPES) {
        const fits =
          (typeof value === 'number' && types.includes('number')) ||
          (typeof value === 'object' && value !== null && !Array.isArray(value) && types.includes('object'));
        if (!fits) set(value, `wrong type ${label(value)}`, true);
      }
      if (types.includes('string')) {
        set('x'.repeat(MB), 'a 1 MB string', true);
        for (const s of [...PATH_TRICKS, ...UNICODE]) set(s, `tricky ${label(s)}`, PATH_FIELDS.has(key) && !SAFE_ID.test(s));
        for (let i = 0; i < RANDOM_CASES_PER_FIELD; i++) {
          const s = randomString(rand);
          set(s, `random ${label(s)}`, PATH_FIELDS.has(key) && !SAFE_ID.test(s));
        }
      }
      if (types.includes('object')) {
        if (prop.properties) {
          set({ ...(base[key] as object), logoUrl: 'https://x.example/l.png' }, 'unknown nested field', true);
          visit(prop, field);
        } else {
          // A free-form object (run_app_command's args): bounded in size, any JSON inside.
          set({ blob: 'x'.repeat(MB) }, 'a 1 MB object', true);
          set({ deep: DEEP }, 'a 100000-deep object', true);
          for (let i = 0; i < RANDOM_CASES_PER_FIELD; i++) {
            const v = randomJson(rand);
            const isRecord = typeof v === 'object' && v !== null && !Array.isArray(v);
            set(v, `random ${label(v)}`, !isRecord);
          }
        }
      }
    }
    if (!prefix) for (const key of schema.required ?? []) add(key, 'missing', withoutField(base, key), true);
  };
  visit(tool.inputSchema as JsonSchema, '');

  for (const key of UNKNOWN_FIELDS) {
    // Parsed from JSON, as a transport would: `__proto__` becomes an own property, not the prototype.
    const args = JSON.parse(`{${[...Object.entries(base).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`), `${JSON.stringify(key)}:"x"`].join(',')}}`) as Record<string, unknown>;
    add(key, `unknown field ${JSON.stringify(key)}`, args, true);
  }
  return cases;
}

/** The field as the server names it: `branding.primaryColor`, or `"extra"` for an unknown field. */
function mention(c: Case): string {
  return c.name.includes('unknown field ') ? `"${c.field}"` : c.field;
}

let sandbox: Sandbox;
let h: Harness;
let listed: ListedTool[];
const transcript = createTranscript();

beforeAll(async () => {
  sandbox = await startSandbox();
  h = await startHarness(sandbox);
  listed = (await h.client.listTools()).tools;
  expect((await h.call('whoami')).isError).toBeFalsy(); // signed in: fuzzed calls reach drio when their arguments pass
});
afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});

describe('every tool’s arguments, fuzzed in-process', () => {
  it('covers every tool the server lists, and no other', () => {
    expect(listed.map((t) => t.name).sort()).toEqual(Object.keys(BASE).sort());
    expect(TOOLS.map((t) => t.name).sort()).toEqual(Object.keys(ROUTES).sort());
  });

  it(`never crashes, names every rejected field, and never reaches another route (seed ${SEED.toString(16)})`, async () => {
    const rand = seededRandom(SEED);
    const cases = listed.flatMap((tool) => casesFor(tool, rand));
    const problems: string[] = [];
    const reached = new Map<string, number>();
    let rejected = 0;

    for (const c of cases) {
      const before = { ...sandbox.counters.requests };
      const result = await h.client.callTool({ name: c.tool, arguments: c.args });
      transcript.add('fuzz result', JSON.stringify(result));
      const text = textOf(result as Parameters<typeof textOf>[0]);
      const routes = Object.keys(sandbox.counters.requests).filter((k) => sandbox.counters.requests[k] !== before[k]);
      for (const r of routes) reached.set(r, (reached.get(r) ?? 0) + 1);
      const stray = routes.filter((r) => !ROUTES[c.tool]!.includes(r));
      if (stray.length) problems.push(`${c.name}: reached ${stray.join(', ')}`);
      if (text.includes('unexpected error')) problems.push(`${c.name}: ${text}`);
      if (text.length > 2000) problems.push(`${c.name}: a ${text.length}-character answer`);
      if (result.isError && routes.length === 0) {
        rejected += 1;
        if (!text.startsWith('Invalid arguments: ') || !text.includes(mention(c))) problems.push(`${c.name}: does not name ${mention(c)}: ${text}`);
      } else if (c.mustReject) {
        problems.push(`${c.name}: accepted (${routes.join(', ') || 'no request'}): ${text.slice(0, 120)}`);
      }
    }

    console.info(
      `[fuzz] ${cases.length} cases over ${listed.length} tools (seed ${SEED.toString(16)}): ${rejected} rejected before any request, ` +
        `${cases.length - rejected} reached drio or answered; routes reached: ${[...reached].map(([r, n]) => `${r} ×${n}`).join(', ')}`,
    );
    if (process.env.FUZZ_DUMP) (await import("node:fs")).writeFileSync(process.env.FUZZ_DUMP, problems.join("\n====\n"));
    expect(problems).toEqual([]);
    expect(cases.length).toBeGreaterThan(1000);
    expect((await h.call('list_apps')).isError).toBeFalsy();
    expect(h.stderr.join('')).not.toContain('unexpected failure');
  });

  it('a "__proto__" key neither pollutes a prototype nor smuggles a value past validation', async () => {
    sandbox.resetCounters();
    // Parsed as a transport parses it: an own "__proto__" property carrying a value the field would refuse.
    const args = JSON.parse('{"__proto__": {"appId": "../me", "polluted": true}}') as Record<string, unknown>;
    expect(textOf(await h.call('get_app', args))).toBe('Invalid arguments: appId: is required');
    expect(sandbox.counters.requests).toEqual({});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('appId');
  });

  it('answers arguments that are not an object at all with a JSON-RPC error, and keeps serving', async () => {
    for (const args of ['appId=app_123', 42, ['app_123'], true]) {
      const outcome = await h.client
        .request({ method: 'tools/call', params: { name: 'get_app', arguments: args as unknown as Record<string, unknown> } }, CallToolResultSchema)
        .then((r) => `result: ${textOf(r)}`, (e: unknown) => `error: ${e instanceof Error ? e.message : String(e)}`);
      // The SDK rejects the request before drio-mcp sees it (as -32603 with zod's issues, not -32602).
      expect(outcome).toMatch(/^error: MCP error -326\d\d: .*expected record/s);
    }
    expect((await h.call('get_app', { appId: 'app_123' })).isError).toBeFalsy();
  });
});

describe('the heaviest cases through the built server over stdio', () => {
  it('1 MB strings, NUL, lone surrogates and RTL survive JSON framing; each answered, the process alive', async () => {
    assertFreshBuild();
    const work = await tempDir('drio-mcp-hostile-');
    try {
      const env = drioEnv(sandbox.apiUrl, path.join(work.dir, 'config'), path.join(work.dir, 'browser.log'));
      await cliLogin(env, transcript);
      const server = await spawnServer(env, transcript, 'hostile-stdio');
      try {
        const cases: Array<[string, Record<string, unknown>, string]> = [
          ['get_app', { appId: 'x'.repeat(MB) }, 'appId: must be at most 128 characters'],
          ['get_app', { appId: 'app_123\u0000' }, 'appId: may contain only'],
          ['get_app', { appId: 'app_\uD800' }, 'appId: may contain only'],
          ['get_app', { appId: '\u202Eapp_123' }, 'appId: may contain only'],
          ['get_app', { appId: '../me' }, 'appId: may contain only'],
          ['create_app', { name: 'x'.repeat(MB), templateId: 'tpl_blank' }, 'name: must be at most 100 characters'],
          ['run_app_command', { appId: 'app_123', command: 'validate', args: { blob: 'é'.repeat(MB) } }, 'args: must be at most 16384 characters as JSON'],
          ['list_apps', { filter: 'x'.repeat(MB) }, 'unknown field(s) "filter"'],
        ];
        sandbox.resetCounters();
        for (const [tool, args, expected] of cases) {
          const result = await server.text(tool, args);
          expect(result.isError, `${tool} ${expected}`).toBe(true);
          expect(result.text).toContain(expected);
          expect(result.text.length).toBeLessThan(2000);
        }
        expect(sandbox.counters.requests).toEqual({});
        expect(server.alive()).toBe(true);
        expect((await server.text('get_app', { appId: 'app_123' })).isError).toBe(false);
      } finally {
        await server.close();
      }
    } finally {
      await work.cleanup();
    }
  });

  it('garbage on stdin (not JSON, broken UTF-8, wrong shapes, 100 000-deep nesting) does not stop the server answering the next request', async () => {
    assertFreshBuild();
    const work = await tempDir('drio-mcp-hostile-raw-');
    const raw = spawnRaw({ DRIO_API_URL: sandbox.apiUrl, DRIO_MCP_CONFIG_DIR: work.dir, DRIO_MCP_NO_BROWSER: '1' });
    try {
      raw.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hostile', version: '1' } } });
      await raw.response(1);
      raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      raw.child.stdin.write('this is not json\n');
      raw.child.stdin.write(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x0a]));
      raw.child.stdin.write('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_app","arguments":{"appId":\n');
      raw.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: 'get_app' });
      raw.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'get_app', arguments: { appId: { toString: '../me' } } } });
      const shaped = await raw.response(4);
      expect(JSON.stringify(shaped)).toContain('appId: Invalid input: expected string, received object');
      // 100 000 levels deep: too deep for the client's JSON.stringify, so written by hand (200 KB).
      const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      raw.child.stdin.write(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"run_app_command","arguments":{"appId":"app_123","command":"validate","args":{"deep":${deep}}}}}\n`);
      expect(JSON.stringify(await raw.response(6))).toContain('args: must be at most 16384 characters as JSON');
      raw.child.stdin.write(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_app","arguments":{"appId":${deep}}}}\n`);
      expect(JSON.stringify(await raw.response(7))).toContain('appId: Invalid input: expected string, received array');
      raw.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'get_template', arguments: { templateId: 'tpl_blank' } } });
      expect(JSON.stringify(await raw.response(5))).toContain('Template tpl_blank: Blank app');
      expect(raw.child.exitCode).toBeNull();
      transcript.add('raw stdout', raw.stdoutLines.join('\n'));
      transcript.add('raw stderr', raw.stderr());
    } finally {
      raw.child.kill('SIGTERM');
      await raw.exited;
      await work.cleanup();
    }
  });
});

it('leaks no issued token or code in anything captured (stdout, stderr, results, log notifications)', () => {
  transcript.add('in-process results, stderr and log notifications', h.transcript());
  expectNoLeakedSecrets(transcript, sandbox.issuedSecrets(), 'hostile-input.test.ts');
});
