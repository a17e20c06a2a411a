/** Starts a drio-mcp entry point over stdio with the SDK client and asks for initialize + tools/list. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export interface ProbeResult {
  serverName: string | undefined;
  serverVersion: string | undefined;
  tools: Array<{ name: string; description?: string }>;
  stderr: string;
}

export async function probeStdioServer(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<ProbeResult> {
  const transport = new StdioClientTransport({
    command,
    args,
    cwd: options.cwd,
    // An unroutable config dir: probing must not need (or touch) real credentials.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DRIO_MCP_NO_BROWSER: '1', ...options.env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'drio-mcp-ship-test', version: '0.0.0' });
  await client.connect(transport);
  try {
    const info = client.getServerVersion();
    const { tools } = await client.listTools();
    return { serverName: info?.name, serverVersion: info?.version, tools, stderr };
  } finally {
    await client.close();
  }
}
