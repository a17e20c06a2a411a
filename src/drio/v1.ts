/**
 * drio management API v1: every route and wrapper shape in one place (drio-api.md). A later API
 * version gets its own module implementing the same DrioClient interface.
 */
import { z } from 'zod';
import { InvalidResponseError } from '../errors.js';
import type { DrioClient } from './api.js';
import type { DrioHttp, DrioRequest, RequestOptions } from './http.js';
import { pathSegment } from './ids.js';
import {
  AppConfigSchema,
  AppSchema,
  AuthConnectionSchema,
  AuthProviderSchema,
  AppToolSchema,
  AppWidgetSchema,
  CommandRunSchema,
  TemplateSchema,
  UserSchema,
} from './schemas.js';

const PREFIX = '/api/v1';

// v1 wraps lists in a named array and single resources in a named object.
const TemplatesBody = z.object({ templates: z.array(TemplateSchema) });
const TemplateBody = z.object({ template: TemplateSchema });
const MeBody = z.object({ user: UserSchema });
const AppsBody = z.object({ apps: z.array(AppSchema) });
const AppBody = z.object({ app: AppSchema });
const ConfigBody = z.object({ config: AppConfigSchema });
const CommandBody = z.object({ command: CommandRunSchema });
const ToolsBody = z.object({ tools: z.array(AppToolSchema) });
const WidgetsBody = z.object({ widgets: z.array(AppWidgetSchema) });
const AuthBody = z.object({ auth: z.array(AuthConnectionSchema), providers: z.array(AuthProviderSchema) });

/** Builds the v1 DrioClient on top of an HTTP function. */
export function createV1Client(http: DrioHttp): DrioClient {
  async function call<S extends z.ZodType>(schema: S, req: DrioRequest, options: RequestOptions | undefined): Promise<z.output<S>> {
    const body = await http(req, options);
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new InvalidResponseError(req.what, { cause: parsed.error });
    return parsed.data;
  }
  const app = (appId: string) => `${PREFIX}/apps/${pathSegment(appId, 'appId')}`;

  return {
    async listTemplates(options) {
      const req: DrioRequest = { method: 'GET', path: `${PREFIX}/templates`, auth: 'public', what: 'the template list' };
      return (await call(TemplatesBody, req, options)).templates;
    },
    async getTemplate(templateId, options) {
      const path = `${PREFIX}/templates/${pathSegment(templateId, 'templateId')}`;
      return (await call(TemplateBody, { method: 'GET', path, auth: 'public', what: `template ${templateId}` }, options)).template;
    },
    async getMe(options) {
      return (await call(MeBody, { method: 'GET', path: `${PREFIX}/me`, auth: 'bearer', what: 'your drio account' }, options)).user;
    },
    async listApps(options) {
      return (await call(AppsBody, { method: 'GET', path: `${PREFIX}/apps`, auth: 'bearer', what: 'the app list' }, options)).apps;
    },
    async getApp(appId, options) {
      return (await call(AppBody, { method: 'GET', path: app(appId), auth: 'bearer', what: `app ${appId}` }, options)).app;
    },
    async getAppConfig(appId, options) {
      const req: DrioRequest = { method: 'GET', path: `${app(appId)}/config`, auth: 'bearer', what: `the config of app ${appId}` };
      return (await call(ConfigBody, req, options)).config;
    },
    async runAppCommand(appId, input, options) {
      const body = input.args === undefined ? { command: input.command } : { command: input.command, args: input.args };
      const req: DrioRequest = { method: 'POST', path: `${app(appId)}/commands`, auth: 'bearer', body, what: `command ${input.command} on app ${appId}` };
      return (await call(CommandBody, req, options)).command;
    },
    async createApp(input, options) {
      // Validated like any id: it names a template in drio's URL space elsewhere.
      pathSegment(input.templateId, 'templateId');
      const body = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
      return (await call(AppBody, { method: 'POST', path: `${PREFIX}/apps`, auth: 'bearer', body, what: 'the new app' }, options)).app;
    },
    async listAppTools(appId, options) {
      const req: DrioRequest = { method: 'GET', path: `${app(appId)}/tools`, auth: 'bearer', what: `the tools of app ${appId}` };
      return (await call(ToolsBody, req, options)).tools;
    },
    async listAppWidgets(appId, options) {
      const req: DrioRequest = { method: 'GET', path: `${app(appId)}/widgets`, auth: 'bearer', what: `the widgets of app ${appId}` };
      return (await call(WidgetsBody, req, options)).widgets;
    },
    async getAppAuth(appId, options) {
      const req: DrioRequest = { method: 'GET', path: `${app(appId)}/auth`, auth: 'bearer', what: `the auth connections of app ${appId}` };
      return await call(AuthBody, req, options);
    },
  };
}
