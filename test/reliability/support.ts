/**
 * Plumbing for the reliability suite: the built server (`node dist/index.js`) spawned as an MCP host would spawn it,
 * spoken to with the SDK Client over stdio, with every byte it writes (stdout, stderr) and every MCP log notification
 * recorded in a Transcript that each test file scans for the secrets the sandbox issued.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import { ENTRY, FAKE_BROWSER, runCli, serverEnv } from '../helpers/built-server.js';
import { textOf } from '../helpers/harness.js';

/** Everything a test file captured, by source, for the secrets scan. */
export interface Transcript {
  add(source: string, text: string): void;
  /** Bytes captured so far (UTF-8). */
  bytes(): number;
  /**
   * The captured places where an issued secret appears. Besides each whole value it looks for the signature of every
   * JWT alone, so a token that was cut or half-redacted still counts.
   */
  leaks(secrets: readonly string[]): Array<{ source: string; secret: string }>;
}

export function createTranscript(): Transcript {
  const chunks: Array<{ source: string; text: string }> = [];
  return {
    add(source, text) {
      if (text.length > 0) chunks.push({ source, text });
    },
    bytes: () => chunks.reduce((n, c) => n + Buffer.byteLength(c.text), 0),
    leaks(secrets) {
      const needles = secrets.flatMap((s) => {
        const parts = s.split('.');
        const signature = parts.length === 3 ? parts[2] : undefined;
        return [s, ...(signature && signature.length >= 16 ? [signature] : [])].filter((n) => n.length >= 8);
      });
      const found: Array<{ source: string; secret: string }> = [];
      for (const { source, text } of chunks) {
        for (const n of needles) if (text.includes(n)) found.push({ source, secret: `${n.slice(0, 6)}…(${n.length} chars)` });
      }
      return found;
    },
  };
}

/**
 * The drio-mcp settings of a spawned server, pointed at a sandbox. The fake browser logs every URL it is asked to open
 * to `browserLog`, so a login a test does not expect shows up there.
 */
export function drioEnv(apiUrl: string, configDir: string, browserLog: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DRIO_API_URL: apiUrl,
    DRIO_MCP_CONFIG_DIR: configDir,
    DRIO_MCP_LOG_LEVEL: 'debug',
    BROWSER: FAKE_BROWSER,
    FAKE_BROWSER_LOG: browserLog,
    ...extra,
  };
}

/** A running `drio-mcp` process with an SDK client connected over stdio. */
export interface ServerProcess {
  client: Client;
  pid: number;
  /** tools/call; isError results are returned, protocol errors thrown. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Text of the first content block of `call`'s result. */
  text(name: string, args?: Record<string, unknown>): Promise<{ isError: boolean; text: string }>;
  stderr(): string;
  /** MCP notifications/message data the client received. */
  logs(): string[];
  /** Still running (not exited, and signal 0 reaches it). */
  alive(): boolean;
  close(): Promise<void>;
}

/** SDK stdio transport that also hands every raw stdout chunk to `onStdout` (the SDK keeps the child private). */
class RecordingStdioTransport extends StdioClientTransport {
  constructor(
    params: StdioServerParameters,
    private readonly onStdout: (chunk: Buffer) => void,
  ) {
    super(params);
  }

  override async start(): Promise<void> {
    await super.start();
    (this as unknown as { _process?: ChildProcess })._process?.stdout?.on('data', this.onStdout);
  }
}

/** Spawns `node dist/index.js`, connects, asks for debug-level MCP logs, and records everything in `transcript`. */
export async function spawnServer(env: Record<string, string>, transcript: Transcript, label = 'server'): Promise<ServerProcess> {
  let stderr = '';
  const logs: string[] = [];
  const transport = new RecordingStdioTransport(
    { command: process.execPath, args: [ENTRY], env: serverEnv(env), stderr: 'pipe' },
    (chunk) => transcript.add(`${label} stdout`, chunk.toString('utf8')),
  );
  transport.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    stderr += text;
    transcript.add(`${label} stderr`, text);
  });
  let exited = false;
  const client = new Client({ name: 'drio-mcp-reliability', version: '1.0.0' });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    const data = typeof n.params.data === 'string' ? n.params.data : JSON.stringify(n.params.data);
    logs.push(data);
    transcript.add(`${label} log notification`, data);
  });
  await client.connect(transport);
  transport.onclose = ((previous) => () => {
    exited = true;
    previous?.();
  })(transport.onclose);
  await client.setLoggingLevel('debug');
  const pid = transport.pid;
  if (pid === null) throw new Error('the server process has no pid');

  const call = async (name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> => {
    // Long enough for the slowest fault here (a Retry-After wait, a request timeout); the SDK default is 60 s.
    const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 30_000 })) as CallToolResult;
    transcript.add(`${label} result`, JSON.stringify(result));
    return result;
  };
  return {
    client,
    pid,
    call,
    async text(name, args) {
      const result = await call(name, args);
      return { isError: result.isError === true, text: textOf(result) };
    },
    stderr: () => stderr,
    logs: () => logs,
    alive() {
      if (exited) return false;
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await client.close();
    },
  };
}

/** Runs `drio-mcp login` (a real process; the fake browser completes the sign-in), recording its output. */
export async function cliLogin(env: Record<string, string>, transcript: Transcript): Promise<void> {
  const run = await runCli(['login'], env);
  transcript.add('login stdout', run.stdout);
  transcript.add('login stderr', run.stderr);
  if (run.code !== 0) throw new Error(`drio-mcp login exited with ${run.code}:\n${run.stderr}`);
}

/** The credentials file drio-mcp keeps in `configDir` (one per drio base URL; tests use one). */
export async function credentialsPath(configDir: string): Promise<string> {
  const name = (await readdir(configDir)).find((f) => /^credentials-[0-9a-f]{16}\.json$/.test(f));
  if (!name) throw new Error(`no credentials file in ${configDir}`);
  return path.join(configDir, name);
}

/** The stored tokens, parsed (for assertions and to move the clock on). */
export interface StoredFile {
  tokens?: { access_token: string; refresh_token?: string; expires_at?: number; obtained_at: number; [k: string]: unknown };
  [k: string]: unknown;
}

export async function readStore(configDir: string): Promise<{ raw: string; json: StoredFile }> {
  const raw = await readFile(await credentialsPath(configDir), 'utf8');
  return { raw, json: JSON.parse(raw) as StoredFile };
}

/**
 * Rewrites the stored token's clock as if time had passed (a sleeping laptop): a spawned process's clock cannot be
 * frozen, so this is how a test gets "expired" or "inside the refresh margin" without waiting.
 */
export async function ageStoredToken(configDir: string, times: { expiresInSeconds: number; lifetimeSeconds: number }): Promise<string> {
  const file = await credentialsPath(configDir);
  const json = JSON.parse(await readFile(file, 'utf8')) as StoredFile;
  if (!json.tokens) throw new Error('not signed in');
  const now = Math.floor(Date.now() / 1000);
  json.tokens.expires_at = now + times.expiresInSeconds;
  json.tokens.obtained_at = json.tokens.expires_at - times.lifetimeSeconds;
  const raw = `${JSON.stringify(json, null, 2)}\n`;
  await writeFile(file, raw, { mode: 0o600 });
  return raw;
}

/** Lines in a FAKE_BROWSER_LOG (0 when the file was never written: no browser opened). */
export async function browserOpens(logFile: string): Promise<number> {
  try {
    return (await readFile(logFile, 'utf8')).split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** The last check of every reliability file: nothing it captured holds a secret the sandbox issued. Logs the figures. */
export function expectNoLeakedSecrets(transcript: Transcript, secrets: readonly string[], file: string): void {
  const leaks = transcript.leaks(secrets);
  console.info(`[secrets] ${file}: scanned ${transcript.bytes()} captured bytes for ${secrets.length} issued secrets: ${leaks.length} hits`);
  expect(secrets.length).toBeGreaterThan(0);
  expect(transcript.bytes()).toBeGreaterThan(0);
  expect(leaks).toEqual([]);
}

/** mulberry32, a tiny seeded PRNG (no dependency): random cases and kill times replay exactly from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
