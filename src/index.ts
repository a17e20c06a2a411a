#!/usr/bin/env node
/**
 * The `drio-mcp` command: with no arguments it serves MCP on stdio; `login`, `logout` and `status`
 * manage the drio sign-in from a terminal. In serve mode stdout carries JSON-RPC and nothing else.
 */
import { Writable } from 'node:stream';
import { VERSION, loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger, redact } from './log.js';

const AUTH_COMMANDS = ['login', 'logout', 'status'] as const;
type AuthCommand = (typeof AUTH_COMMANDS)[number];

const USAGE = `Usage: drio-mcp [command]

An MCP server for the drio management API (getdrio.com): list and inspect your drio apps,
read their config, run commands such as deploy, browse templates.

Commands:
  (none)     Serve MCP on stdio (what MCP clients such as Claude Desktop run)
  login      Sign in to drio in your browser
  logout     Sign out and delete the stored tokens
  status     Show whether you are signed in, and as whom

Options:
  -h, --help       Show this help (or a command's: drio-mcp login --help)
  -v, --version    Show the version

Environment:
  DRIO_API_URL                       drio base URL (default https://getdrio.com)
  DRIO_MCP_CONFIG_DIR                where credentials are stored
  DRIO_MCP_LOG_LEVEL                 debug | info | warn | error | silent (default info)
  DRIO_MCP_NO_BROWSER                only print the sign-in URL, never open a browser
  DRIO_MCP_CALLBACK_PORT             fixed port for the sign-in callback on 127.0.0.1
  DRIO_MCP_LOGIN_WAIT_SECONDS        how long a tool call waits for a sign-in (default 45)
  DRIO_MCP_LOGIN_TIMEOUT_SECONDS     how long a sign-in stays open (default 300)
  DRIO_MCP_REQUEST_TIMEOUT_SECONDS   timeout of each request to drio (default 30)
`;

const out = (s: string) => void process.stdout.write(s);
const err = (s: string) => void process.stderr.write(s);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'serve') {
    if (rest.length > 0) return usageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    return serve();
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    out(USAGE);
    return 0;
  }
  if (command === '-v' || command === '--version') {
    out(`${VERSION}\n`);
    return 0;
  }
  if (!isAuthCommand(command)) return usageError(`unknown command ${JSON.stringify(command)}`);
  if (rest.some((a) => a === '-h' || a === '--help')) {
    const { AUTH_COMMAND_HELP } = await import('./auth/cli.js');
    out(AUTH_COMMAND_HELP[command]);
    return 0;
  }
  if (rest.length > 0) return usageError(`unexpected argument ${JSON.stringify(rest[0])} for ${command}`);

  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    return configFailure(error);
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { runAuthCommand } = await import('./auth/cli.js');
    return await runAuthCommand(command, config, { out, err }, { signal: abort.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function isAuthCommand(value: string): value is AuthCommand {
  return (AUTH_COMMANDS as readonly string[]).includes(value);
}

function usageError(message: string): number {
  err(`drio-mcp: ${message}\n\n${USAGE}`);
  return 2;
}

function configFailure(error: unknown): number {
  if (!(error instanceof ConfigError)) throw error;
  err(`drio-mcp: ${error.message}\n`);
  return 1;
}

/**
 * Serves MCP on stdio until the client goes away. An invalid configuration does not stop the
 * server: MCP hosts hide a crashed server's stderr, so every tool call answers with the problem
 * instead, where the user sees it.
 */
async function serve(): Promise<number> {
  // A host that went away leaves stderr broken: a write there must not raise. Without this listener the EPIPE
  // became an uncaught exception, whose handler wrote to the same dead stderr, and so on, forever, at full CPU.
  process.stderr.on('error', () => {});
  // A stray exception in a callback must not take the server (and the user's session) down.
  process.on('uncaughtException', (error) => {
    err(`drio-mcp [error] uncaught exception: ${redact(error.stack ?? error.message)}\n`);
  });
  process.on('unhandledRejection', (reason) => {
    err(`drio-mcp [error] unhandled rejection: ${redact(reason instanceof Error ? (reason.stack ?? reason.message) : String(reason))}\n`);
  });
  const protocolOut = guardStdout();

  let config: Config;
  let startupError: ConfigError | undefined;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    startupError = error;
    config = loadConfig({});
    err(`drio-mcp: ${error.message} Every tool call will report this until it is fixed.\n`);
  }
  const logger = createLogger({ level: config.logLevel });

  const [{ createServer }, { StdioServerTransport }] = await Promise.all([import('./server.js'), import('@modelcontextprotocol/sdk/server/stdio.js')]);
  const server = createServer({
    config,
    logger,
    startupError,
    createAuth: async ({ presentLoginUrl }) => {
      const { createSession } = await import('./auth/index.js');
      return createSession(config, { logger, presentLoginUrl });
    },
  });

  let stopping: Promise<void> | undefined;
  const stop = (reason: string, finishCalls = false): Promise<void> => {
    stopping ??= (async () => {
      logger.debug(`Shutting down (${reason}).`);
      // When input simply ended (e.g. requests piped in), answer what was asked first, within bounds.
      if (finishCalls) await Promise.race([server.idle(), new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref())]);
      // Never hang on the way out: a stuck close must not keep a dead host's child alive.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
      const closeAndFlush = async () => {
        await server.close().catch(() => {});
        // Answers still queued for stdout must reach the client before the process goes.
        await new Promise<void>((resolve) => protocolOut.end(() => resolve()));
      };
      await Promise.race([closeAndFlush(), deadline]);
      process.exit(0);
    })();
    return stopping;
  };

  process.stdin.once('end', () => void stop('stdin closed', true));
  process.stdin.once('close', () => void stop('stdin closed', true));
  // `on`, not `once`: signal-exit (via proper-lockfile) re-raises a signal when it sees no other listener left.
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  protocolOut.on('error', () => void stop('stdout closed'));

  await server.mcp.connect(new StdioServerTransport(process.stdin, protocolOut));
  server.mcp.server.onclose = () => void stop('transport closed');
  logger.debug(`drio-mcp ${VERSION} serving MCP on stdio for ${config.apiUrl}.`);
  return new Promise<number>(() => {}); // runs until stop() exits the process
}

/**
 * stdout belongs to JSON-RPC. Anything else that writes to it (console.log in a dependency,
 * process.stdout.write) is sent to stderr; only the returned stream reaches the real stdout.
 */
function guardStdout(): Writable {
  const realWrite = process.stdout.write.bind(process.stdout) as (chunk: unknown, callback: (error?: Error | null) => void) => boolean;
  const protocolOut = new Writable({
    write(chunk, _encoding, callback) {
      realWrite(chunk, callback);
    },
  });
  process.stdout.on('error', (e) => protocolOut.destroy(e));
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
  return protocolOut;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    err(`drio-mcp: ${redact(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    process.exitCode = 1;
  },
);
