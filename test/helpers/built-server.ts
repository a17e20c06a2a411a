/** The built server (`dist/index.js`), spawned the way MCP hosts do, with raw access to its stdio. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ENTRY = path.join(ROOT, 'dist/index.js');
export const FAKE_BROWSER = path.join(ROOT, 'test/sandbox/fake-browser.mjs');

/** Throws a clear message when dist/ is missing or older than src/ (npm test builds first via `pretest`). */
export function assertFreshBuild(): void {
  if (!existsSync(ENTRY)) throw new Error('dist/index.js is missing: run `npm run build` (npm test does it via pretest).');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
      const p = path.join(dir, e.name);
      return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  if (newest(path.join(ROOT, 'src')) > statSync(ENTRY).mtimeMs) {
    throw new Error('dist/index.js is older than src/: run `npm run build` first (npm test does it via pretest).');
  }
}

/** A minimal environment (like the SDK's StdioClientTransport default) plus `env`. */
export function serverEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TERM']) if (process.env[k]) base[k] = process.env[k]!;
  return { ...base, ...env };
}

export interface RawServer {
  child: ChildProcessWithoutNullStreams;
  /** Every line the server wrote to stdout, verbatim. */
  stdoutLines: string[];
  stderr(): string;
  send(message: unknown): void;
  /** Resolves with the JSON-RPC response to request `id`. */
  response(id: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node [...nodeArgs] dist/index.js ...args` and records its stdout line by line. */
export function spawnRaw(env: Record<string, string>, args: string[] = [], nodeArgs: string[] = []): RawServer {
  const child = spawn(process.execPath, [...nodeArgs, ENTRY, ...args], { env: serverEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  const stdoutLines: string[] = [];
  const waiters = new Map<number, (msg: Record<string, unknown>) => void>();
  let buffer = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      stdoutLines.push(line);
      try {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (typeof msg.id === 'number' && ('result' in msg || 'error' in msg)) waiters.get(msg.id)?.(msg);
      } catch {
        // Recorded; the test judges it.
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stdoutLines,
    stderr: () => stderr,
    send: (message) => void child.stdin.write(`${JSON.stringify(message)}\n`),
    response: (id, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no response to request ${id}; stderr:\n${stderr}`)), timeoutMs);
        waiters.set(id, (msg) => {
          clearTimeout(timer);
          resolve(msg);
        });
      }),
    exited,
  };
}

/** Runs `node dist/index.js ...args` to completion. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ENTRY, ...args], { env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => void (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => void (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}
