import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBearerValidator } from './api-auth.js';
import { configOf, newAppExtras, publicApp, seedData, type App, type DrioData } from './api-data.js';
import { bump } from './counters.js';
import { applyFailure, defaultCode, type FailureBook } from './failures.js';
import { listenLoopback, readBody, sendJson, type Listening } from './http-util.js';
import { SCOPES, TEST_USER, type Counters } from './types.js';

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  sub: string; // '' on public routes
  body: unknown;
}

type Handler = (ctx: Ctx) => void | Promise<void>;

interface Route {
  method: 'GET' | 'POST';
  pattern: string;
  auth: boolean;
  handler: Handler;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

export interface ApiServer {
  apiUrl: string;
  listening: Listening;
  data: DrioData;
  close(): Promise<void>;
}

export interface AsMetadataSource {
  issuer: string;
  metadata: () => Record<string, unknown>;
}

function matchPattern(pattern: string, path: string): Record<string, string> | undefined | 'bad' {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const pp = p[i]!;
    const seg = s[i]!;
    if (pp.startsWith(':')) {
      if (seg === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(seg);
      } catch {
        return 'bad';
      }
      params[pp.slice(1)] = decoded;
    } else if (pp !== seg) {
      return undefined;
    }
  }
  return params;
}

const COMMANDS = new Set(['deploy', 'validate']);

function buildRoutes(data: DrioData, apiUrl: () => string, as: AsMetadataSource): Route[] {
  const findApp = (ctx: Ctx): App => {
    const app = data.apps.find((a) => a.id === ctx.params.appId && a.ownerId === ctx.sub);
    if (!app) throw new ApiError(404, 'not_found', 'App not found');
    return app;
  };
  const extras = (app: App) => data.extras.get(app.id) ?? newAppExtras(app);
  const json = (ctx: Ctx, status: number, body: unknown) => sendJson(ctx.res, status, body);

  return [
    {
      method: 'GET',
      pattern: '/.well-known/oauth-protected-resource',
      auth: false,
      handler: (ctx) =>
        json(ctx, 200, {
          resource: apiUrl(),
          authorization_servers: [as.issuer],
          scopes_supported: [...SCOPES],
          bearer_methods_supported: ['header'],
          resource_name: 'drio management API (sandbox)',
        }),
    },
    {
      method: 'GET',
      pattern: '/.well-known/oauth-authorization-server',
      auth: false,
      handler: (ctx) => json(ctx, 200, as.metadata()),
    },
    {
      method: 'GET',
      pattern: '/api/v1/openapi.json',
      auth: false,
      handler: (ctx) => json(ctx, 200, openApiDoc(apiUrl())),
    },
    { method: 'GET', pattern: '/api/v1/templates', auth: false, handler: (ctx) => json(ctx, 200, { templates: data.templates }) },
    {
      method: 'GET',
      pattern: '/api/v1/templates/:templateId',
      auth: false,
      handler: (ctx) => {
        const template = data.templates.find((t) => t.id === ctx.params.templateId);
        if (!template) throw new ApiError(404, 'not_found', 'Template not found');
        json(ctx, 200, { template });
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/me',
      auth: true,
      handler: (ctx) => {
        if (ctx.sub !== TEST_USER.id) throw new ApiError(404, 'not_found', 'User not found');
        json(ctx, 200, { user: { id: TEST_USER.id, email: TEST_USER.email, name: TEST_USER.name, image: null } });
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/apps',
      auth: true,
      handler: (ctx) => json(ctx, 200, { apps: data.apps.filter((a) => a.ownerId === ctx.sub).map(publicApp) }),
    },
    {
      method: 'POST',
      pattern: '/api/v1/apps',
      auth: true,
      handler: (ctx) => {
        const body = ctx.body;
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(422, 'validation_error', 'Request body must be a JSON object', { fields: [] });
        const b = body as Record<string, unknown>;
        const issues: { field: string; message: string }[] = [];
        if (typeof b.name !== 'string' || !b.name.trim()) issues.push({ field: 'name', message: 'name is required' });
        if (typeof b.templateId !== 'string' || !b.templateId) issues.push({ field: 'templateId', message: 'templateId is required' });
        else if (!data.templates.some((t) => t.id === b.templateId)) issues.push({ field: 'templateId', message: `Unknown template "${b.templateId}"` });
        if (b.slug !== undefined && (typeof b.slug !== 'string' || !/^[a-z0-9-]+$/.test(b.slug))) issues.push({ field: 'slug', message: 'slug must be lowercase letters, digits and dashes' });
        if (b.companyUrl !== undefined && b.companyUrl !== null && typeof b.companyUrl !== 'string') issues.push({ field: 'companyUrl', message: 'companyUrl must be a string' });
        if (b.branding !== undefined && (typeof b.branding !== 'object' || b.branding === null || Array.isArray(b.branding))) issues.push({ field: 'branding', message: 'branding must be an object' });
        if (issues.length) throw new ApiError(422, 'validation_error', 'Invalid app', { fields: issues });
        const name = (b.name as string).trim();
        const slug = typeof b.slug === 'string' ? b.slug : name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'app';
        if (data.apps.some((a) => a.slug === slug)) throw new ApiError(422, 'validation_error', 'Slug already taken', { fields: [{ field: 'slug', message: 'slug already taken' }] });
        const now = new Date().toISOString();
        const id = `app_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
        const app: App = {
          id,
          ownerId: ctx.sub,
          publicMcpId: `mcp_${id.slice(4)}`,
          slug,
          name,
          description: '',
          version: 1,
          status: 'draft',
          isEnabled: false,
          templateId: b.templateId as string,
          companyUrl: typeof b.companyUrl === 'string' ? b.companyUrl : null,
          serverInstructions: '',
          branding: {
            primaryColor: '#3b5bdb',
            accentColor: '#f5a623',
            backgroundColor: '#ffffff',
            fontFamily: 'Inter',
            borderRadius: 8,
            ...(b.branding as Record<string, never> | undefined),
          },
          createdAt: now,
          updatedAt: now,
        };
        data.apps.push(app);
        data.extras.set(app.id, newAppExtras(app));
        json(ctx, 201, { app: publicApp(app) });
      },
    },
    { method: 'GET', pattern: '/api/v1/apps/:appId', auth: true, handler: (ctx) => json(ctx, 200, { app: publicApp(findApp(ctx)) }) },
    {
      method: 'GET',
      pattern: '/api/v1/apps/:appId/config',
      auth: true,
      handler: (ctx) => {
        const app = findApp(ctx);
        json(ctx, 200, { config: configOf(app, extras(app)) });
      },
    },
    { method: 'GET', pattern: '/api/v1/apps/:appId/tools', auth: true, handler: (ctx) => json(ctx, 200, { tools: extras(findApp(ctx)).tools }) },
    { method: 'GET', pattern: '/api/v1/apps/:appId/widgets', auth: true, handler: (ctx) => json(ctx, 200, { widgets: extras(findApp(ctx)).widgets }) },
    {
      method: 'GET',
      pattern: '/api/v1/apps/:appId/auth',
      auth: true,
      handler: (ctx) => {
        const x = extras(findApp(ctx));
        json(ctx, 200, { auth: x.auth, providers: x.providers });
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/apps/:appId/commands',
      auth: true,
      handler: (ctx) => {
        const app = findApp(ctx);
        const b = ctx.body as Record<string, unknown> | null;
        if (!b || typeof b !== 'object' || Array.isArray(b) || typeof b.command !== 'string' || !b.command.trim()) {
          throw new ApiError(422, 'validation_error', 'command is required', { fields: [{ field: 'command', message: 'command is required' }] });
        }
        if (b.args !== undefined && (typeof b.args !== 'object' || b.args === null || Array.isArray(b.args))) {
          throw new ApiError(422, 'validation_error', 'args must be an object', { fields: [{ field: 'args', message: 'args must be an object' }] });
        }
        const command = b.command;
        if (!COMMANDS.has(command)) {
          throw new ApiError(400, 'bad_request', `Unknown command "${command}"`, { command, known: [...COMMANDS] });
        }
        const now = new Date().toISOString();
        let result: Record<string, unknown>;
        if (command === 'deploy') {
          app.version += 1;
          app.status = 'published';
          app.isEnabled = true;
          app.updatedAt = now;
          result = { deploymentId: `dep_${randomUUID().slice(0, 8)}`, version: app.version, url: `https://mcp.getdrio.com/${app.publicMcpId}` };
        } else {
          result = { ok: true, errorCount: 0, warningCount: 1, issues: [{ severity: 'warning', path: 'branding.fontFamily', message: 'Font is not bundled; a fallback will be used.' }] };
        }
        json(ctx, 200, { command: { id: `cmd_${randomUUID().replace(/-/g, '').slice(0, 12)}`, command, status: 'succeeded', result, createdAt: now } });
      },
    },
  ];
}

function openApiDoc(apiUrl: string): Record<string, unknown> {
  const op = (summary: string, secured: boolean) => ({ summary, ...(secured ? { security: [{ oauth2: [...SCOPES] }] } : {}), responses: { '200': { description: 'OK' } } });
  return {
    openapi: '3.1.0',
    info: { title: 'drio management API (sandbox)', version: 'v1' },
    servers: [{ url: apiUrl }],
    paths: {
      '/api/v1/templates': { get: op('List templates', false) },
      '/api/v1/templates/{templateId}': { get: op('Inspect a template', false) },
      '/api/v1/me': { get: op('Current user', true) },
      '/api/v1/apps': { get: op('List apps', true), post: op('Create an app', true) },
      '/api/v1/apps/{appId}': { get: op('Get an app', true) },
      '/api/v1/apps/{appId}/config': { get: op('App authoring config', true) },
      '/api/v1/apps/{appId}/commands': { post: op('Run an app command', true) },
      '/api/v1/apps/{appId}/tools': { get: op('App tools', true) },
      '/api/v1/apps/{appId}/widgets': { get: op('App widgets', true) },
      '/api/v1/apps/{appId}/auth': { get: op('App auth connections', true) },
    },
  };
}

export async function startApiServer(opts: {
  port: number;
  as: AsMetadataSource;
  counters: Counters;
  failures: FailureBook;
  revoked: Set<string>;
}): Promise<ApiServer> {
  const { counters, failures } = opts;
  const data = seedData();
  let apiUrl = '';
  const routes = buildRoutes(data, () => apiUrl, opts.as);
  const validate = createBearerValidator({
    issuer: opts.as.issuer,
    audience: () => apiUrl,
    jwksUri: `${opts.as.issuer}/jwks`,
    revoked: opts.revoked,
  });
  const resourceMetadata = () => `Bearer resource_metadata="${apiUrl}/.well-known/oauth-protected-resource"`;

  const sendError = (res: ServerResponse, e: ApiError, headers: Record<string, string> = {}) => {
    const requestId = randomUUID();
    sendJson(res, e.status, { error: { code: e.code, message: e.message, details: e.details, requestId } }, { 'x-request-id': requestId, ...headers });
  };

  const listening = await listenLoopback(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      let route: Route | undefined;
      let params: Record<string, string> = {};
      let badPath = false;
      let pathKnown = false;
      for (const r of routes) {
        const m = matchPattern(r.pattern, url.pathname);
        if (m === 'bad') badPath = true;
        if (!m || m === 'bad') continue;
        pathKnown = true;
        if (r.method === method) {
          route = r;
          params = m;
          break;
        }
      }
      const key = route ? `${method} ${route.pattern}` : `${method} ${url.pathname}`;
      bump(counters.requests, key);

      const failure = failures.take([key]);
      if (failure) {
        const handled = await applyFailure(
          failure,
          req,
          res,
          (status, code, message) => ({
            error: { code: code ?? defaultCode(status), message: message ?? `Sandbox forced failure (${status})`, details: null, requestId: randomUUID() },
          }),
          (status): Record<string, string> => (status === 401 ? { 'www-authenticate': resourceMetadata() } : {}),
        );
        if (handled) return;
      }

      if (!route) {
        req.resume();
        if (badPath) return sendError(res, new ApiError(400, 'bad_request', 'Malformed path parameter'));
        if (pathKnown) return sendError(res, new ApiError(405, 'bad_request', `Method ${method} not allowed on ${url.pathname}`), { allow: routes.filter((r) => matchPattern(r.pattern, url.pathname)).map((r) => r.method).join(', ') });
        return sendError(res, new ApiError(404, 'not_found', `No route for ${method} ${url.pathname}`));
      }

      let sub = '';
      if (route.auth) {
        const auth = await validate(req);
        if (!auth.ok) {
          req.resume();
          const challenge = auth.tokenSent
            ? `${resourceMetadata()}, error="invalid_token", error_description="${auth.description}"`
            : resourceMetadata();
          return sendError(res, new ApiError(401, 'unauthorized', auth.description), { 'www-authenticate': challenge });
        }
        sub = auth.sub;
      }

      let body: unknown;
      if (method === 'POST') {
        const text = await readBody(req);
        if (text.trim()) {
          try {
            body = JSON.parse(text);
          } catch {
            throw new ApiError(400, 'bad_request', 'Request body is not valid JSON');
          }
        }
      } else {
        req.resume();
      }
      await route.handler({ req, res, params, sub, body });
    } catch (err) {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (err instanceof ApiError) sendError(res, err);
      else sendError(res, new ApiError(500, 'internal_error', 'Internal sandbox error', { message: String(err) }));
    }
  }, opts.port);
  apiUrl = listening.url;

  return { apiUrl, listening, data, close: () => listening.close() };
}
