// Regression: when the host died (all three pipes closed), a write to the dead stderr raised EPIPE, the
// uncaught-exception handler wrote about it to the same dead stderr, and the server spun at full CPU forever
// as an orphan instead of exiting. A host going away must always end the server, quickly.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ENTRY, assertFreshBuild, serverEnv } from '../helpers/built-server.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } };

function startServer() {
  assertFreshBuild();
  // Debug logging makes the server write to stderr while it shuts down, which is what used to loop.
  const child = spawn(process.execPath, [ENTRY], {
    env: serverEnv({ DRIO_API_URL: 'http://127.0.0.1:9', DRIO_MCP_CONFIG_DIR: '/nonexistent/drio-mcp-test', DRIO_MCP_LOG_LEVEL: 'debug' }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const firstLine = new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  child.stdin.write(`${JSON.stringify(INIT)}\n`);
  return { child, exited, firstLine };
}

const within = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);

describe('the host goes away', () => {
  it('exits when stdout and stderr are gone and a call is still being answered', async () => {
    const { child, exited, firstLine } = startServer();
    expect(await firstLine).toContain('"serverInfo"');
    // The host dies: its ends of stdout and stderr close first, then a request it had sent arrives, then stdin ends.
    child.stdout.destroy();
    child.stderr.destroy();
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_templates', arguments: {} } })}\n`);
    child.stdin.end();
    const outcome = await within(exited, 5000);
    if (outcome === 'still running') child.kill('SIGKILL');
    expect(outcome).not.toBe('still running');
  });

  it('exits when only stderr is gone and the server has something to log', async () => {
    const { child, exited, firstLine } = startServer();
    expect(await firstLine).toContain('"serverInfo"');
    child.stderr.destroy();
    // A call that fails (drio unreachable) logs to the dead stderr; the server must keep answering on stdout.
    const answer = new Promise<string>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('"id":3') && resolve(chunk.toString())));
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_templates', arguments: {} } })}\n`);
    expect(await within(answer, 5000)).toContain('Could not reach drio');
    child.stdin.end();
    const outcome = await within(exited, 5000);
    if (outcome === 'still running') child.kill('SIGKILL');
    expect(outcome).toMatchObject({ code: 0 });
  });
});
