/** Apps: list, inspect, read the authoring config, create. */
import { z } from 'zod';
import { AppConfigSchema, AppSchema, type App, type AppConfig } from '../drio/index.js';
import { appId, templateId } from './fields.js';
import { bullets, clip, count, join, labelOf } from './format.js';
import { READ_DRIO, defineTool } from './types.js';

function state(app: App): string {
  return join([app.status ?? undefined, app.isEnabled === true ? 'enabled' : app.isEnabled === false ? 'disabled' : undefined, app.version != null ? `v${app.version}` : undefined]);
}

const appLine = (a: App) => join([`${a.id} "${a.name ?? '(unnamed)'}"`, a.slug ? `slug ${a.slug}` : undefined, state(a)], ', ');

function describeApp(a: App): string {
  const b = a.branding;
  return join(
    [
      `${a.name ?? '(unnamed)'} (${a.id})`,
      state(a) && `state: ${state(a)}`,
      join([a.slug && `slug: ${a.slug}`, a.publicMcpId && `public MCP id: ${a.publicMcpId}`, a.templateId && `template: ${a.templateId}`], ' · '),
      a.companyUrl && `company: ${a.companyUrl}`,
      a.description && `description: ${clip(a.description, 300)}`,
      a.serverInstructions && `server instructions: ${clip(a.serverInstructions, 200)}`,
      b && `branding: ${join([b.primaryColor && `primary ${b.primaryColor}`, b.accentColor && `accent ${b.accentColor}`, b.backgroundColor && `background ${b.backgroundColor}`, b.fontFamily && `font ${b.fontFamily}`, b.borderRadius != null && `radius ${b.borderRadius}`])}`,
    ],
    '\n',
  );
}

export const listApps = defineTool({
  name: 'list_apps',
  title: 'List my drio apps',
  description:
    'List the drio apps of the signed-in user with id, name, slug, status, enabled flag and version. Start here when the user ' +
    'mentions an app by name: the other app tools need its appId. Signs in through the browser first if needed.',
  inputSchema: {},
  outputSchema: { apps: z.array(AppSchema).describe('The user’s apps') },
  annotations: READ_DRIO,
  async run(_args, ctx) {
    const apps = await ctx.drio.listApps({ signal: ctx.signal });
    const text = apps.length === 0 ? 'You have no drio apps yet. Use list_templates and create_app to make one.' : `${count(apps.length, 'app')}:\n${bullets(apps.map(appLine))}`;
    return { structured: { apps }, text };
  },
});

export const getApp = defineTool({
  name: 'get_app',
  title: 'Get a drio app',
  description:
    'Show one drio app: name, status, version, slug, public MCP id, template, company URL, description, server instructions and ' +
    'branding. Use it to answer questions about a specific app; use get_app_config for its tools, integrations and auth setup.',
  inputSchema: { appId },
  outputSchema: { app: AppSchema },
  annotations: READ_DRIO,
  async run(args, ctx) {
    const app = await ctx.drio.getApp(args.appId, { signal: ctx.signal });
    return { structured: { app }, text: describeApp(app) };
  },
});

function summarizeConfig(id: string, config: AppConfig): string {
  const lines = Object.entries(config).map(([key, value]) => {
    if (Array.isArray(value)) {
      const names = value.slice(0, 10).map(labelOf).join(', ');
      return `${key}: ${value.length}${value.length ? ` (${names}${value.length > 10 ? ', …' : ''})` : ''}`;
    }
    if (value && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>).slice(0, 8);
      return `${key}: ${entries.map(([k, v]) => `${k} ${typeof v === 'object' && v !== null ? '{…}' : clip(v, 40)}`).join(', ')}`;
    }
    return `${key}: ${clip(value, 160)}`;
  });
  return `Config of app ${id}:\n${bullets(lines, 30)}\nThe full config is in the structured result.`;
}

export const getAppConfig = defineTool({
  name: 'get_app_config',
  title: 'Get a drio app’s config',
  description:
    'Return the authoring config of a drio app: its auth connections, integrations, tools, widgets, branding and server ' +
    'instructions, as drio stores them. Use it to explain or review how an app is built, or before running a command such as validate or deploy.',
  inputSchema: { appId },
  outputSchema: { appId: z.string(), config: AppConfigSchema.describe('The config object exactly as drio returns it') },
  annotations: READ_DRIO,
  async run(args, ctx) {
    const config = await ctx.drio.getAppConfig(args.appId, { signal: ctx.signal });
    return { structured: { appId: args.appId, config }, text: summarizeConfig(args.appId, config) };
  },
});

const color = z.string().min(1).max(64).describe('A CSS color, e.g. "#3b5bdb"');
const branding = z
  .strictObject({
    primaryColor: color.optional(),
    accentColor: color.optional(),
    backgroundColor: color.optional(),
    fontFamily: z.string().min(1).max(100).optional().describe('A font family name, e.g. "Inter"'),
    borderRadius: z.union([z.number().min(0).max(100), z.string().min(1).max(20)]).optional().describe('Corner radius, e.g. 8 or "8px"'),
  })
  .describe('Optional look of the app; drio fills in what is missing');

export const createApp = defineTool({
  name: 'create_app',
  title: 'Create a drio app',
  description:
    'Create a new drio app from a template. Needs a name and a templateId (from list_templates); slug, companyUrl and branding are ' +
    'optional. Creates a draft: nothing is published until run_app_command deploy. Only call this when the user asked for a new app; ' +
    'calling it twice creates two apps. Returns the new app with its id.',
  inputSchema: {
    name: z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters').describe('The app’s display name, e.g. "Acme Support"'),
    templateId,
    slug: z
      .string()
      .min(1)
      .max(63, 'must be at most 63 characters')
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lowercase letters and digits separated by single dashes, e.g. "acme-support"')
      .optional()
      .describe('URL-friendly identifier, e.g. "acme-support"; drio derives one from the name if omitted'),
    companyUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. "https://acme.com"' })
      .max(2048)
      .optional()
      .describe('The company’s website, e.g. "https://acme.com"'),
    branding: branding.optional(),
  },
  outputSchema: { app: AppSchema },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(args, ctx) {
    const app = await ctx.drio.createApp(args, { signal: ctx.signal });
    const text = join(
      [`Created app ${app.id} "${app.name ?? args.name}"${app.slug ? ` (slug ${app.slug})` : ''} from template ${app.templateId ?? args.templateId}; ${state(app) || 'status unknown'}.`, 'It is not live until you run the deploy command (run_app_command with command "deploy").'],
      '\n',
    );
    return { structured: { app }, text };
  },
});
