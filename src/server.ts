/**
 * The MCP server: registers the drio tools and is the one place where failures become `isError`
 * results a person can act on. Sign-in happens on first use: nothing here touches the network or
 * loads the auth layer until a tool call needs a token.
 */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  McpError,
  type CallToolResult,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AuthSession, GetAccessTokenOptions, LoginPresenter, TokenSource } from './auth/types.js';
import type { Config } from './config.js';
import { createDrioClient, type DrioClient } from './drio/index.js';
import { ApiError, ConfigError, DrioMcpError, InputError, LoginPendingError } from './errors.js';
import { redact, type LogSink, type Logger } from './log.js';
import { TOOLS, type Tool, type ToolContext } from './tools/index.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Hooks the server hands to the auth layer when it first needs it. */
export interface AuthHooks {
  /** Shows the sign-in URL: URL-mode elicitation when the client supports it, else the browser. */
  presentLoginUrl: LoginPresenter;
}

export interface ServerDeps {
  config: Config;
  logger: Logger & { addSink?(sink: LogSink): () => void };
  /**
   * Creates the auth session. Called once, on the first tool call that needs sign-in state, so
   * `initialize` and `tools/list` never load the OAuth stack.
   */
  createAuth: (hooks: AuthHooks) => Promise<AuthSession>;
  /** Builds the drio client a tool call uses; defaults to the v1 client. */
  createDrio?: (tokens: TokenSource) => DrioClient;
  /** When set (e.g. invalid configuration), every tool call answers with this error. */
  startupError?: Error;
  /** Where stacks of unexpected errors go; defaults to stderr. */
  writeStderr?: (text: string) => void;
  /** Defaults to every drio tool. */
  tools?: readonly Tool[];
  /** How often progress notifications are sent while a call waits for sign-in. */
  progressIntervalMs?: number;
}

export interface DrioMcpServer {
  /** The SDK server: connect it to a transport. */
  readonly mcp: McpServer;
  /** Resolves once no tool call is running (e.g. to answer what was asked before stdin closed). */
  idle(): Promise<void>;
  /** Disconnects and closes the auth session (and its loopback listener) if one was opened. */
  close(): Promise<void>;
}

const INSTRUCTIONS =
  'drio-mcp manages the user’s drio apps (MCP apps drio hosts for ChatGPT, Claude and other assistants). ' +
  'Start with list_apps to find an app’s appId; get_app, get_app_config, list_app_tools and list_app_widgets inspect it; ' +
  'run_app_command runs "validate" or "deploy". list_templates and create_app start new apps. ' +
  'The first call that needs drio opens a browser sign-in; if a tool answers with a sign-in URL, show it to the user and call the tool again once they signed in.';

const LEVELS: Record<Parameters<LogSink>[0], LoggingLevel> = { debug: 'debug', info: 'info', warn: 'warning', error: 'error' };

/** Creates the drio MCP server with its tools registered. */
export function createServer(deps: ServerDeps): DrioMcpServer {
  const { config, logger } = deps;
  const tools = deps.tools ?? TOOLS;
  const writeStderr = deps.writeStderr ?? ((text: string) => void process.stderr.write(text));
  const progressIntervalMs = deps.progressIntervalMs ?? 3000;
  const createDrio =
    deps.createDrio ??
    ((tokens: TokenSource) => createDrioClient({ apiUrl: config.apiUrl, tokens, timeoutMs: config.requestTimeoutMs, userAgent: `drio-mcp/${config.version}`, logger }));

  const mcp = new McpServer(
    { name: 'drio-mcp', title: 'drio', version: config.version },
    { capabilities: { tools: {}, logging: {} }, instructions: INSTRUCTIONS },
  );

  // Logs reach the client as notifications/message once it is initialised; the SDK drops
  // levels below what the client asked for with logging/setLevel.
  let initialized = false;
  mcp.server.oninitialized = () => {
    initialized = true;
  };
  const removeSink = deps.logger.addSink?.((level, message) => {
    if (!initialized) return;
    mcp.sendLoggingMessage({ level: LEVELS[level], logger: 'drio-mcp', data: message }).catch(() => {});
  });

  // --- sign-in on first use -------------------------------------------------------------------
  let session: Promise<AuthSession> | undefined;
  let loginUrl: string | undefined;
  let pendingElicitationId: string | undefined;

  const presentLoginUrl: LoginPresenter = async (url, openBrowser) => {
    loginUrl = url;
    if (initialized) {
      mcp.sendLoggingMessage({ level: 'notice', logger: 'drio-mcp', data: `Sign in to drio to continue: ${url}` }).catch(() => {});
    }
    if (!mcp.server.getClientCapabilities()?.elicitation?.url) {
      await openBrowser();
      return;
    }
    // Not awaited: the client answers when the user acts, and the login must not wait for that.
    const elicitationId = randomUUID();
    pendingElicitationId = elicitationId;
    mcp.server
      .elicitInput(
        { mode: 'url', elicitationId, url, message: 'Sign in to drio so drio-mcp can read and manage your drio apps.' },
        { timeout: config.loginTimeoutMs },
      )
      .then((answer) => {
        if (answer.action !== 'accept') logger.info(`The sign-in request was ${answer.action === 'decline' ? 'declined' : 'dismissed'} in the client.`);
      })
      .catch(async (error: unknown) => {
        if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) return;
        logger.warn('The client could not show the sign-in URL; opening the browser instead.', { error });
        await openBrowser().catch((e: unknown) => logger.warn('Could not open the browser.', { error: e }));
      });
  };

  function getSession(): Promise<AuthSession> {
    session ??= deps.createAuth({ presentLoginUrl }).catch((error: unknown) => {
      session = undefined; // let the next call try again
      throw error;
    });
    return session;
  }

  function tokenSourceFor(extra: Extra): TokenSource {
    return {
      async getAccessToken(options?: GetAccessTokenOptions) {
        const auth = await getSession();
        const stopProgress = startProgress(extra);
        try {
          const token = await auth.getAccessToken({ ...options, waitForLoginMs: config.loginWaitMs, signal: options?.signal ?? extra.signal });
          completeElicitation();
          return token;
        } finally {
          stopProgress();
        }
      },
    };
  }

  function completeElicitation(): void {
    const id = pendingElicitationId;
    if (id === undefined) return;
    pendingElicitationId = undefined;
    loginUrl = undefined;
    try {
      void mcp.server.createElicitationCompletionNotifier(id)().catch(() => {});
    } catch {
      // The client did not declare URL elicitation after all.
    }
  }

  /** While a call waits for a token, tells the client every few seconds, if it asked for progress. */
  function startProgress(extra: Extra): () => void {
    const progressToken = extra._meta?.progressToken;
    if (progressToken === undefined) return () => {};
    const started = Date.now();
    const total = Math.ceil(config.loginWaitMs / 1000);
    const timer = setInterval(() => {
      const progress = Math.min(total, Math.round((Date.now() - started) / 1000));
      const message = loginUrl ? `Waiting for you to sign in to drio in the browser: ${loginUrl}` : 'Getting a drio access token…';
      extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total, message } }).catch(() => {});
    }, progressIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  // --- tools ----------------------------------------------------------------------------------
  const byName = new Map(tools.map((t) => [t.name, t]));
  for (const tool of tools) {
    mcp.registerTool(
      tool.name,
      { title: tool.title, description: tool.description, inputSchema: schemasOf(tool).input, outputSchema: tool.outputSchema, annotations: { title: tool.title, ...tool.annotations } },
      (_args: unknown, extra: Extra) => runTool(tool, extra, _args),
    );
  }
  // The SDK validates arguments itself and answers "MCP error -32602: Input validation error: ..."
  // before our handler runs. Taking over tools/call lets invalid arguments be reported field by
  // field like every other failure, from the same place.
  mcp.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = byName.get(request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
    return runTool(tool, extra, request.params.arguments);
  });

  let running = 0;
  const idleWaiters: Array<() => void> = [];

  async function runTool(tool: Tool, extra: Extra, rawArgs: unknown): Promise<CallToolResult> {
    running += 1;
    try {
      return await runToolOnce(tool, extra, rawArgs);
    } finally {
      running -= 1;
      if (running === 0) for (const resolve of idleWaiters.splice(0)) resolve();
    }
  }

  async function runToolOnce(tool: Tool, extra: Extra, rawArgs: unknown): Promise<CallToolResult> {
    try {
      if (deps.startupError) throw deps.startupError;
      const args = parseArguments(tool, rawArgs);
      const ctx: ToolContext = {
        drio: createDrio(tokenSourceFor(extra)),
        authStatus: async () => (await getSession()).status(),
        signal: extra.signal,
      };
      const output = await tool.run(args, ctx);
      const checked = schemasOf(tool).output.safeParse(output.structured);
      if (!checked.success) {
        logger.error(`Tool ${tool.name} produced a result that does not match its output schema.`, { issues: checked.error.issues.slice(0, 5) });
        return errorResult('drio-mcp produced a malformed result for this call; this is a bug in drio-mcp. Details are in its log.');
      }
      return { content: [{ type: 'text', text: redact(output.text) }], structuredContent: output.structured };
    } catch (error) {
      return errorResult(describeFailure(error, tool, extra));
    }
  }

  function describeFailure(error: unknown, tool: Tool, extra: Extra): string {
    if (extra.signal.aborted) return 'The call was cancelled.';
    if (error instanceof LoginPendingError) return error.message;
    if (error instanceof ApiError && error.status === 401) {
      return `${error.message} drio did not accept the sign-in even after a refresh; ask again to sign in anew, or run \`drio-mcp login\`.`;
    }
    if (error instanceof ApiError && error.details != null) {
      // e.g. which fields a 422 validation_error objects to: the part a person can act on.
      return `${error.message} Details: ${clipJson(error.details)}`;
    }
    if (error instanceof ConfigError) return `drio-mcp is not configured correctly: ${error.message} Fix it in your MCP client's settings for drio-mcp and restart it.`;
    if (error instanceof DrioMcpError) {
      if (error.code === 'ERR_AUTH_DENIED') return 'Sign-in to drio was denied in the browser, so drio-mcp is not signed in. Ask again to start a new sign-in.';
      return error.message;
    }
    const name = error instanceof Error ? error.name : 'Error';
    const stack = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    writeStderr(`drio-mcp [error] unexpected failure in ${tool.name}: ${redact(stack)}\n`);
    return `drio-mcp hit an unexpected error (${name}) while running ${tool.name}. The details were written to its log (stderr).`;
  }

  return {
    mcp,
    async idle() {
      // Requests already read start, and finished ones send their answers, a few microtasks
      // later: a macrotask turn covers both.
      for (;;) {
        await new Promise((resolve) => setImmediate(resolve));
        if (running === 0) return;
        await new Promise<void>((resolve) => void idleWaiters.push(resolve));
      }
    },
    async close() {
      removeSink?.();
      const opened = session;
      session = undefined;
      if (opened) await opened.then((s) => s.close()).catch(() => {});
      await mcp.close();
    },
  };
}

const compiledSchemas = new WeakMap<Tool, { input: z.ZodObject; output: z.ZodObject }>();

/**
 * The tool's input and output schemas as zod objects, built once per tool: zod compiles an object's
 * fast path on first use, so building them per call would pay that compilation on every call.
 */
function schemasOf(tool: Tool): { input: z.ZodObject; output: z.ZodObject } {
  let schemas = compiledSchemas.get(tool);
  if (!schemas) {
    // Strict: an unknown argument (a typo, a filter the tool does not have) is named, not silently dropped.
    schemas = { input: z.strictObject(tool.inputSchema), output: z.object(tool.outputSchema) };
    compiledSchemas.set(tool, schemas);
  }
  return schemas;
}

function parseArguments(tool: Tool, raw: unknown): Record<string, unknown> {
  const result = schemasOf(tool).input.safeParse(raw ?? {}, {
    error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined),
  });
  if (result.success) return result.data;
  throw new InputError(
    result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message,
    })),
  );
}

function clipJson(value: unknown, max = 400): string {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: redact(message) }], isError: true };
}
