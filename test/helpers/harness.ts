/**
 * The MCP server wired to an SDK Client over InMemoryTransport, with the real auth layer and a
 * "browser" that drives the sandbox's HTML login (or denies it, or ignores it).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  LoggingMessageNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { createSession, type DrioAuthSession } from '../../src/auth/index.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServer, type DrioMcpServer, type ServerDeps } from '../../src/server.js';
import type { Sandbox } from '../sandbox/index.js';
import { tempDir, testConfig } from './config.js';

export type BrowserBehaviour = 'complete' | 'deny' | 'ignore';

export interface HarnessOptions {
  config?: Partial<Config>;
  /** What the "browser" does with a sign-in URL. Default: complete the login. */
  browser?: BrowserBehaviour;
  /** Replaces the sandbox-driven "browser" altogether (e.g. with a real one); URLs are still recorded in `opens`. */
  openUrl?: (url: string) => Promise<void>;
  clientCapabilities?: ClientCapabilities;
  /** Reuse a credentials dir (e.g. one already signed in). */
  configDir?: string;
  server?: Partial<Pick<ServerDeps, 'startupError' | 'createDrio' | 'progressIntervalMs' | 'tools'>>;
}

export interface Harness {
  client: Client;
  server: DrioMcpServer;
  config: Config;
  /** URLs the "browser" opened. */
  opens: string[];
  /** Everything written to stderr: log lines, the sign-in URL line, stacks. */
  stderr: string[];
  /** notifications/message the client received. */
  logs: LoggingMessageNotification['params'][];
  /** How many times the server created the auth session. */
  authCreated(): number;
  session(): DrioAuthSession | undefined;
  browser: { behaviour: BrowserBehaviour };
  /** tools/call; returns the result (never throws for isError results). */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** All result texts and stderr joined, for leak scans. */
  transcript(): string;
  close(): Promise<void>;
}

export async function startHarness(sandbox: Sandbox, options: HarnessOptions = {}): Promise<Harness> {
  const temp = options.configDir ? undefined : await tempDir();
  const config = testConfig(sandbox.apiUrl, options.configDir ?? temp!.dir, options.config);
  const stderr: string[] = [];
  const opens: string[] = [];
  const logs: LoggingMessageNotification['params'][] = [];
  const results: string[] = [];
  const logins: Promise<unknown>[] = [];
  const browser = { behaviour: options.browser ?? ('complete' as BrowserBehaviour) };
  const write = (l: string) => void stderr.push(l);
  const logger = createLogger({ level: 'debug', write });
  let created = 0;
  let session: DrioAuthSession | undefined;

  const server = createServer({
    config,
    logger,
    writeStderr: write,
    ...options.server,
    createAuth: async ({ presentLoginUrl }) => {
      created += 1;
      session = createSession(config, {
        logger,
        presentLoginUrl,
        stderr: write,
        openUrl: async (url) => {
          opens.push(url);
          if (options.openUrl) return options.openUrl(url);
          if (browser.behaviour === 'ignore') return;
          logins.push(sandbox.completeLogin(url, { deny: browser.behaviour === 'deny' }).catch(() => undefined));
        },
      });
      return session;
    },
  });

  const client = new Client({ name: 'drio-mcp-test', version: '1.0.0' }, { capabilities: options.clientCapabilities ?? {} });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.mcp.connect(serverSide);
  await client.connect(clientSide);

  return {
    client,
    server,
    config,
    opens,
    stderr,
    logs,
    browser,
    authCreated: () => created,
    session: () => session,
    async call(name, args) {
      const result = (await client.callTool({ name, arguments: args ?? {} })) as CallToolResult;
      for (const c of result.content) if (c.type === 'text') results.push(c.text);
      if (result.structuredContent) results.push(JSON.stringify(result.structuredContent));
      return result;
    },
    transcript: () => [...results, ...stderr, ...logs.map((l) => JSON.stringify(l))].join('\n'),
    async close() {
      await client.close();
      await server.close();
      await Promise.all(logins);
      await temp?.cleanup();
    },
  };
}

/** The text of a tool result's first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first && first.type === 'text' ? first.text : '';
}
