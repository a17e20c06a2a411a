import type { Config } from '../config.js';
import { DrioMcpError } from '../errors.js';
import { createLogger, redact, type Logger } from '../log.js';
import { toNetworkError } from './discovery.js';
import { createSession, type DrioAuthSession, type SessionDeps } from './session.js';

/** The auth subcommands of the `drio-mcp` CLI. */
export type AuthCommand = 'login' | 'logout' | 'status';

/** Where a command writes: `out` for its result, `err` for progress, the sign-in URL and errors. */
export interface AuthCommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Optional overrides (tests, or a host that already has a logger). */
export interface AuthCommandDeps extends Partial<Omit<SessionDeps, 'stderr'>> {
  /** Cancels a waiting `login` (e.g. on Ctrl-C). */
  signal?: AbortSignal;
}

/** `--help` text for each auth subcommand. */
export const AUTH_COMMAND_HELP: Record<AuthCommand, string> = {
  login: `Usage: drio-mcp login

Signs in to drio in your browser and stores the tokens, so the MCP server never has to ask.
The sign-in URL is always printed too: over SSH or in a container, open it on any machine
whose browser can reach this one's 127.0.0.1 callback (or set DRIO_MCP_CALLBACK_PORT and forward it).

Environment: DRIO_API_URL, DRIO_MCP_CONFIG_DIR, DRIO_MCP_CALLBACK_PORT, DRIO_MCP_NO_BROWSER,
             DRIO_MCP_LOGIN_TIMEOUT_SECONDS
`,
  logout: `Usage: drio-mcp logout

Revokes the stored refresh token at drio's sign-in server (when it offers revocation)
and deletes the local tokens for DRIO_API_URL. The client registration is kept.
`,
  status: `Usage: drio-mcp status

Shows whether drio-mcp is signed in to DRIO_API_URL, as whom (asks drio's /api/v1/me),
when the access token expires, the sign-in server and where credentials are stored.
Never prints a token.
`,
};

/** Runs `drio-mcp login|logout|status`; resolves with the process exit code. */
export async function runAuthCommand(command: AuthCommand, config: Config, io: AuthCommandIo, deps: AuthCommandDeps = {}): Promise<number> {
  const logger: Logger = deps.logger ?? createLogger({ level: config.logLevel, write: io.err });
  const session = createSession(config, { ...deps, logger, stderr: io.err });
  try {
    switch (command) {
      case 'login':
        await session.login({ signal: deps.signal });
        io.out(`Signed in to drio at ${config.apiUrl}${await describeAccount(session, config)}.\n`);
        return 0;
      case 'logout': {
        const { revoked } = await session.logout();
        io.out(`Signed out of drio at ${config.apiUrl}${revoked ? ' (the sign-in was revoked at the server)' : ''}.\n`);
        return 0;
      }
      case 'status':
        return await printStatus(session, config, io);
    }
  } catch (err) {
    io.err(`drio-mcp ${command}: ${redact(err instanceof Error ? err.message : String(err))}\n`);
    return err instanceof DrioMcpError && err.code === 'ERR_AUTH_LOGIN_ABORTED' ? 130 : 1;
  } finally {
    await session.close();
  }
}

async function printStatus(session: DrioAuthSession, config: Config, io: AuthCommandIo): Promise<number> {
  const status = await session.status();
  const lines = [`drio API:    ${status.apiUrl}`];
  if (!status.signedIn) {
    lines.push('Signed in:   no (run `drio-mcp login`, or just use a drio tool)');
  } else {
    let who = '';
    try {
      who = await describeAccount(session, config);
    } catch (err) {
      who = ` (could not confirm with drio: ${redact(err instanceof Error ? err.message : String(err))})`;
    }
    lines.push(`Signed in:   yes${who}`);
    if (status.accessTokenExpiresAt) lines.push(`Token until: ${status.accessTokenExpiresAt}${status.canRefresh ? ' (refreshed automatically)' : ''}`);
  }
  if (status.loginInProgress) lines.push(`Signing in:  waiting for the browser since ${status.loginInProgress.startedAt}: ${status.loginInProgress.url}`);
  if (status.issuer) lines.push(`Sign-in via: ${status.issuer}`);
  lines.push(`Stored in:   ${status.storePath}`);
  io.out(`${lines.join('\n')}\n`);
  return status.signedIn ? 0 : 1;
}

/** " as Ada <ada@example.com>" from drio's /api/v1/me, or "" when unknown. Never starts a login. */
async function describeAccount(session: DrioAuthSession, config: Config): Promise<string> {
  const token = await session.getAccessTokenIfSignedIn();
  if (token === undefined) return '';
  const url = `${config.apiUrl}/api/v1/me`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(config.requestTimeoutMs),
    });
  } catch (err) {
    throw toNetworkError(url, err);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return ` (drio answered HTTP ${response.status} to /api/v1/me)`;
  }
  const body = (await response.json().catch(() => undefined)) as { user?: { email?: unknown; name?: unknown } } | undefined;
  const name = typeof body?.user?.name === 'string' ? body.user.name : undefined;
  const email = typeof body?.user?.email === 'string' ? body.user.email : undefined;
  if (name && email) return ` as ${name} <${email}>`;
  return name || email ? ` as ${name ?? email}` : '';
}
