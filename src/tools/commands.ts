/** App commands (deploy, validate, ...): the one tool that changes a live app. */
import { z } from 'zod';
import { CommandRunSchema } from '../drio/index.js';
import { appId } from './fields.js';
import { clip, join } from './format.js';
import { defineTool } from './types.js';

const MAX_ARGS_JSON = 16_384;

/** Small enough to send. Nesting a few thousand levels deep (a few KB of JSON) makes JSON.stringify overflow the stack. */
function fitsAsJson(value: unknown): boolean {
  try {
    return JSON.stringify(value).length <= MAX_ARGS_JSON;
  } catch {
    return false;
  }
}

export const runAppCommand = defineTool({
  name: 'run_app_command',
  title: 'Run a command on a drio app',
  description:
    'Run a drio command on an app, e.g. "validate" (check the draft for problems) or "deploy" (publish the app so assistants use the ' +
    'new version). Deploy changes what end users get: run it only when the user asked to. Commands are never retried automatically. ' +
    'Returns the command run with its status (succeeded, failed or queued) and result.',
  inputSchema: {
    appId,
    command: z
      .string()
      .min(1, 'is required, e.g. "deploy" or "validate"')
      .max(64, 'must be at most 64 characters')
      .regex(/^[A-Za-z][A-Za-z0-9_.:-]*$/, 'must be a command name such as "deploy" or "validate"')
      .describe('The command to run, e.g. "deploy" or "validate"'),
    args: z
      .record(z.string(), z.unknown())
      .refine(fitsAsJson, `must be at most ${MAX_ARGS_JSON} characters as JSON`)
      .optional()
      .describe('Optional command arguments as a JSON object, passed to drio unchanged'),
  },
  outputSchema: { appId: z.string(), command: CommandRunSchema },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async run(args, ctx) {
    const run = await ctx.drio.runAppCommand(args.appId, { command: args.command, ...(args.args !== undefined && { args: args.args }) }, { signal: ctx.signal });
    const verdict = run.status === 'failed' ? 'FAILED' : run.status;
    const result = run.result
      ? Object.entries(run.result)
          .slice(0, 12)
          .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? clip(JSON.stringify(v), 160) : clip(v, 160)}`)
      : [];
    const text = join([`${run.command} on app ${args.appId}: ${verdict}${run.id ? ` (run ${run.id})` : ''}.`, ...result], '\n');
    return { structured: { appId: args.appId, command: run }, text };
  },
});
