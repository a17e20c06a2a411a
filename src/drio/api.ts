/**
 * What the tools need from drio, independent of the API version behind it. The v1 module
 * implements it today; a v3 module can implement it later without the tools noticing.
 */
import type { RequestOptions } from './http.js';
import type { App, AppAuth, AppConfig, AppTool, AppWidget, CommandInput, CommandRun, CreateAppInput, Template, User } from './schemas.js';

export interface DrioClient {
  /** Public: the templates a new app can start from. Needs no sign-in. */
  listTemplates(options?: RequestOptions): Promise<Template[]>;
  /** Public: one template. */
  getTemplate(templateId: string, options?: RequestOptions): Promise<Template>;
  /** The signed-in user. */
  getMe(options?: RequestOptions): Promise<User>;
  listApps(options?: RequestOptions): Promise<App[]>;
  getApp(appId: string, options?: RequestOptions): Promise<App>;
  /** The app's authoring config (auth connections, integrations, tools, widgets, branding). */
  getAppConfig(appId: string, options?: RequestOptions): Promise<AppConfig>;
  /** Runs a command such as `deploy` or `validate`. Never retried automatically. */
  runAppCommand(appId: string, input: CommandInput, options?: RequestOptions): Promise<CommandRun>;
  createApp(input: CreateAppInput, options?: RequestOptions): Promise<App>;
  listAppTools(appId: string, options?: RequestOptions): Promise<AppTool[]>;
  listAppWidgets(appId: string, options?: RequestOptions): Promise<AppWidget[]>;
  /** The app's upstream auth connections and available providers (not drio sign-in). */
  getAppAuth(appId: string, options?: RequestOptions): Promise<AppAuth>;
}
