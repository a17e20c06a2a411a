/** Templates: public, so these work before anyone signs in. */
import { z } from 'zod';
import { TemplateSchema, type Template } from '../drio/index.js';
import { templateId } from './fields.js';
import { bullets, clip, count, join } from './format.js';
import { READ_DRIO, defineTool } from './types.js';

const line = (t: Template) => join([`${t.id}: ${t.name ?? '(unnamed)'}`, t.category ? `(${t.category})` : undefined, t.description ? `— ${clip(t.description, 100)}` : undefined], ' ');

export const listTemplates = defineTool({
  name: 'list_templates',
  title: 'List drio templates',
  description:
    'List the templates a new drio app can start from (id, name, category, description). Use this before create_app to pick a templateId, ' +
    'or when the user asks what kinds of apps drio can build. Works without signing in.',
  inputSchema: {},
  outputSchema: { templates: z.array(TemplateSchema).describe('Every template drio offers') },
  annotations: READ_DRIO,
  async run(_args, ctx) {
    const templates = await ctx.drio.listTemplates({ signal: ctx.signal });
    const text = templates.length === 0 ? 'drio offers no templates right now.' : `${count(templates.length, 'template')}:\n${bullets(templates.map(line))}`;
    return { structured: { templates }, text };
  },
});

export const getTemplate = defineTool({
  name: 'get_template',
  title: 'Get a drio template',
  description:
    'Show one drio template by id: its name, category and description. Use it when the user wants details about a template before ' +
    'creating an app from it. Works without signing in.',
  inputSchema: { templateId },
  outputSchema: { template: TemplateSchema },
  annotations: READ_DRIO,
  async run(args, ctx) {
    const template = await ctx.drio.getTemplate(args.templateId, { signal: ctx.signal });
    const text = join([`Template ${template.id}: ${template.name ?? '(unnamed)'}`, template.category && `category: ${template.category}`, template.description ?? undefined], '\n');
    return { structured: { template }, text };
  },
});
