/**
 * The drio resources as drio-mcp uses them, whatever API version they came from. Every object is
 * loose: drio may add fields at any time and clients must keep them (and not fail on them).
 * v1 JSON is camelCase, so these double as the v1 item shapes; a v3 module maps its snake_case here.
 */
import { z } from 'zod';

const text = () => z.string().nullish();
const flag = () => z.boolean().nullish();

/** A starting point for a new app. Shape is drio-mcp's choice (drio-api.md, [ours]). */
export const TemplateSchema = z.looseObject({
  id: z.string(),
  name: text(),
  description: text(),
  category: text(),
});
export type Template = z.infer<typeof TemplateSchema>;

/** The signed-in drio user. */
export const UserSchema = z.looseObject({
  id: z.string(),
  email: text(),
  name: text(),
  image: text(),
});
export type User = z.infer<typeof UserSchema>;

/** An app's visual identity; also the `branding` argument of create_app. */
export const BrandingSchema = z.looseObject({
  primaryColor: text(),
  accentColor: text(),
  backgroundColor: text(),
  fontFamily: text(),
  borderRadius: z.union([z.string(), z.number()]).nullish(),
});
export type Branding = z.infer<typeof BrandingSchema>;

/** A drio app (an MCP app drio hosts for ChatGPT, Claude and other assistants). */
export const AppSchema = z.looseObject({
  id: z.string(),
  publicMcpId: text(),
  slug: text(),
  name: text(),
  description: text(),
  version: z.union([z.string(), z.number()]).nullish(),
  status: text(),
  isEnabled: flag(),
  templateId: text(),
  companyUrl: text(),
  serverInstructions: text(),
  branding: BrandingSchema.nullish(),
});
export type App = z.infer<typeof AppSchema>;

/** An app's authoring config: auth connections, integrations, tools, widgets, branding. Open-ended. */
export const AppConfigSchema = z.record(z.string(), z.unknown());
export type AppConfig = z.infer<typeof AppConfigSchema>;

/** A tool an app exposes to assistants. */
export const AppToolSchema = z.looseObject({
  id: z.string(),
  appId: text(),
  key: text(),
  name: text(),
  description: text(),
  kind: text(),
  isEnabled: flag(),
  order: z.number().nullish(),
  annotations: z.record(z.string(), z.unknown()).nullish(),
  binding: z
    .looseObject({
      type: text(),
      integrationOperationId: text(),
      schemaHashAtBindTime: text(),
      status: text(),
    })
    .nullish(),
  nextToolIds: z.array(z.string()).nullish(),
  widgetId: text(),
});
export type AppTool = z.infer<typeof AppToolSchema>;

/** A UI widget attached to an app's tool. */
export const AppWidgetSchema = z.looseObject({
  id: z.string(),
  appId: text(),
  toolId: text(),
  key: text(),
  name: text(),
  primitive: text(),
  displayMode: text(),
  visibility: z.unknown().optional(),
  config: z.unknown().optional(),
  actions: z.array(z.unknown()).nullish(),
});
export type AppWidget = z.infer<typeof AppWidgetSchema>;

/** One of an app's upstream auth connections (how the app signs in to third parties, not drio login). */
export const AuthConnectionSchema = z.looseObject({
  id: z.string().nullish(),
  name: text(),
  provider: text(),
  type: text(),
  status: text(),
});
export type AuthConnection = z.infer<typeof AuthConnectionSchema>;

/** An upstream auth provider an app can connect to. */
export const AuthProviderSchema = z.looseObject({
  id: z.string().nullish(),
  key: text(),
  name: text(),
  type: text(),
});
export type AuthProvider = z.infer<typeof AuthProviderSchema>;

/** An app's upstream auth: its connections and the providers available. */
export const AppAuthSchema = z.object({
  auth: z.array(AuthConnectionSchema),
  providers: z.array(AuthProviderSchema),
});
export type AppAuth = z.infer<typeof AppAuthSchema>;

/** The outcome of an app command such as `deploy` or `validate`. */
export const CommandRunSchema = z.looseObject({
  id: z.string().nullish(),
  command: z.string(),
  // Free-form on purpose: drio documents succeeded/failed/queued but may add more.
  status: z.string(),
  result: z.record(z.string(), z.unknown()).nullish(),
  createdAt: text(),
});
export type CommandRun = z.infer<typeof CommandRunSchema>;

/** What create_app sends. drio's own field names. */
export interface CreateAppInput {
  name: string;
  templateId: string;
  slug?: string;
  companyUrl?: string;
  branding?: Partial<Record<'primaryColor' | 'accentColor' | 'backgroundColor' | 'fontFamily', string>> & {
    borderRadius?: string | number;
  };
}

/** What run_app_command sends. */
export interface CommandInput {
  command: string;
  args?: Record<string, unknown>;
}
