/** The parts of an app assistants see: its tools and its widgets. */
import { z } from 'zod';
import { AppToolSchema, AppWidgetSchema, type AppTool, type AppWidget } from '../drio/index.js';
import { appId } from './fields.js';
import { bullets, clip, count, join } from './format.js';
import { READ_DRIO, defineTool } from './types.js';

const toolLine = (t: AppTool) =>
  join(
    [
      `${t.key ?? t.id} "${t.name ?? ''}"`,
      join([t.kind ?? undefined, t.isEnabled === false ? 'disabled' : t.isEnabled ? 'enabled' : undefined, t.binding?.status ? `binding ${t.binding.status}` : undefined, t.widgetId ? `widget ${t.widgetId}` : undefined]),
      t.description ? `— ${clip(t.description, 100)}` : undefined,
    ],
    ' ',
  );

export const listAppTools = defineTool({
  name: 'list_app_tools',
  title: 'List a drio app’s tools',
  description:
    'List the tools a drio app exposes to assistants: key, name, kind, enabled flag, binding to an integration operation, linked ' +
    'widget and annotations. Use it to explain what an app can do or to check its tool setup.',
  inputSchema: { appId },
  outputSchema: { appId: z.string(), tools: z.array(AppToolSchema) },
  annotations: READ_DRIO,
  async run(args, ctx) {
    const tools = await ctx.drio.listAppTools(args.appId, { signal: ctx.signal });
    const sorted = [...tools].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    const text = tools.length === 0 ? `App ${args.appId} has no tools yet.` : `${count(tools.length, 'tool')} in app ${args.appId}:\n${bullets(sorted.map(toolLine))}`;
    return { structured: { appId: args.appId, tools }, text };
  },
});

const widgetLine = (w: AppWidget) =>
  join([`${w.key ?? w.id} "${w.name ?? ''}"`, join([w.primitive ?? undefined, w.displayMode ?? undefined, w.toolId ? `for tool ${w.toolId}` : undefined])], ' ');

export const listAppWidgets = defineTool({
  name: 'list_app_widgets',
  title: 'List a drio app’s widgets',
  description:
    'List the UI widgets of a drio app (key, name, primitive, display mode, the tool each belongs to, its config and actions). ' +
    'Use it when the user asks how an app’s results are displayed.',
  inputSchema: { appId },
  outputSchema: { appId: z.string(), widgets: z.array(AppWidgetSchema) },
  annotations: READ_DRIO,
  async run(args, ctx) {
    const widgets = await ctx.drio.listAppWidgets(args.appId, { signal: ctx.signal });
    const text = widgets.length === 0 ? `App ${args.appId} has no widgets.` : `${count(widgets.length, 'widget')} in app ${args.appId}:\n${bullets(widgets.map(widgetLine))}`;
    return { structured: { appId: args.appId, widgets }, text };
  },
});
