export { createDrioClient, type DrioClientOptions } from './client.js';
export type { DrioClient } from './api.js';
export type { RequestOptions, RetryPolicy } from './http.js';
export { ID_MAX_LENGTH, ID_PATTERN, pathSegment } from './ids.js';
export type { App, AppAuth, AppConfig, AppTool, AppWidget, AuthConnection, AuthProvider, Branding, CommandInput, CommandRun, CreateAppInput, Template, User } from './schemas.js';
export {
  AppAuthSchema,
  AppConfigSchema,
  AppSchema,
  AppToolSchema,
  AppWidgetSchema,
  BrandingSchema,
  CommandRunSchema,
  TemplateSchema,
  UserSchema,
} from './schemas.js';
