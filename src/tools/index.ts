/** Every tool drio-mcp serves, in the order `tools/list` shows them. */
import { authStatus, whoami } from './account.js';
import { listAppTools, listAppWidgets } from './app-parts.js';
import { createApp, getApp, getAppConfig, listApps } from './apps.js';
import { runAppCommand } from './commands.js';
import { getTemplate, listTemplates } from './templates.js';
import type { Tool } from './types.js';

export const TOOLS: readonly Tool[] = Object.freeze([
  listApps,
  getApp,
  getAppConfig,
  listAppTools,
  listAppWidgets,
  runAppCommand,
  createApp,
  listTemplates,
  getTemplate,
  whoami,
  authStatus,
]);

export type { Tool, ToolContext, ToolHints, ToolOutput } from './types.js';
