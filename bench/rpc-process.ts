import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A minimal JSON-RPC-over-stdio peer for benchmarks: the same thin client drives every server
 * measured, so client overhead cancels out of the ratios.
 */
export class RpcProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private nextId = 1;
  private readonly pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
  private readonly exited: Promise<void>;
  stderr = '';

  constructor(
    command: string,
    args: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as { id?: number; result?: unknown; error?: unknown };
      if (typeof message.id === 'number') this.pending.get(message.id)?.(message);
    });
  }

  request(method: string, params: unknown = {}): Promise<{ result?: unknown; error?: unknown }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (message) => {
        this.pending.delete(id);
        resolve(message);
      });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  async initialize(): Promise<void> {
    await this.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'drio-mcp-bench', version: '0.0.0' },
    });
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  }

  callTool(name: string, args: Record<string, unknown> = {}) {
    return this.request('tools/call', { name, arguments: args });
  }

  /**
   * Memory after a full GC, from the gc-probe preload (the process must run with
   * `-r bench/gc-probe.cjs --expose-gc` and GC_PROBE_DIR set).
   */
  async memoryAfterGc(): Promise<NodeJS.MemoryUsage> {
    const { readFile, rm } = await import('node:fs/promises');
    const path = await import('node:path');
    const file = path.join(String(this.env.GC_PROBE_DIR), `${this.child.pid}.json`);
    await rm(file, { force: true });
    this.child.kill('SIGUSR2');
    for (let i = 0; i < 200; i += 1) {
      try {
        return JSON.parse(await readFile(file, 'utf8')) as NodeJS.MemoryUsage;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    throw new Error('the gc probe did not answer');
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
