/** Who is signed in: `whoami` asks drio, `auth_status` only looks at the local credentials. */
import { z } from 'zod';
import { UserSchema } from '../drio/index.js';
import { join } from './format.js';
import { READ_DRIO, defineTool } from './types.js';

export const whoami = defineTool({
  name: 'whoami',
  title: 'Show the signed-in drio user',
  description:
    'Return the drio account drio-mcp acts as (id, name, email). Use it when the user asks which drio account is connected. ' +
    'Signs in through the browser first if needed.',
  inputSchema: {},
  outputSchema: { user: UserSchema },
  annotations: READ_DRIO,
  async run(_args, ctx) {
    const user = await ctx.drio.getMe({ signal: ctx.signal });
    const who = join([user.name ?? undefined, user.email ? `<${user.email}>` : undefined], ' ') || user.id;
    return { structured: { user }, text: `Signed in to drio as ${who} (${user.id}).` };
  },
});

const AuthStatusSchema = {
  apiUrl: z.string().describe('The drio base URL these credentials are for'),
  signedIn: z.boolean().describe('True when a usable access token or refresh token is stored'),
  accessTokenExpiresAt: z.string().optional().describe('ISO time the current access token expires'),
  canRefresh: z.boolean().describe('True when expiry is handled silently with a refresh token'),
  issuer: z.string().optional().describe('The sign-in server'),
  clientId: z.string().optional().describe('drio-mcp’s registered OAuth client id (not a secret)'),
  storePath: z.string().describe('Where credentials are stored'),
  loginInProgress: z.object({ url: z.string(), startedAt: z.string() }).optional().describe('A browser sign-in waiting to be finished, started by this server or by another drio-mcp process on this machine'),
};

export const authStatus = defineTool({
  name: 'auth_status',
  title: 'Check drio sign-in status',
  description:
    'Report whether drio-mcp is signed in to drio, until when, and whether a browser sign-in is waiting, without starting a sign-in ' +
    'or calling drio. Use it when a drio tool asked the user to sign in, or to troubleshoot access.',
  inputSchema: {},
  outputSchema: AuthStatusSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(_args, ctx) {
    const s = await ctx.authStatus();
    const structured = {
      apiUrl: s.apiUrl,
      signedIn: s.signedIn,
      canRefresh: s.canRefresh,
      storePath: s.storePath,
      ...(s.accessTokenExpiresAt !== undefined && { accessTokenExpiresAt: s.accessTokenExpiresAt }),
      ...(s.issuer !== undefined && { issuer: s.issuer }),
      ...(s.clientId !== undefined && { clientId: s.clientId }),
      ...(s.loginInProgress !== undefined && { loginInProgress: { url: s.loginInProgress.url, startedAt: s.loginInProgress.startedAt } }),
    };
    const lines = s.signedIn
      ? [
          `Signed in to drio at ${s.apiUrl}.`,
          s.accessTokenExpiresAt && `Access token valid until ${s.accessTokenExpiresAt}.`,
          s.canRefresh ? 'A refresh token is stored, so expiry is handled silently.' : 'No refresh token: a new browser sign-in is needed when the token expires.',
        ]
      : [`Not signed in to drio at ${s.apiUrl}. The next drio tool call will start a browser sign-in (or run \`drio-mcp login\` in a terminal).`];
    if (s.loginInProgress) lines.push(`A sign-in is waiting in the browser: ${s.loginInProgress.url}`);
    lines.push(`Credentials file: ${s.storePath}`);
    return { structured, text: join(lines, '\n') };
  },
});
