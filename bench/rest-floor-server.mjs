// The warm-call floor: a bare SDK stdio server whose one tool does the same GET as drio-mcp's
// list_apps with a fixed bearer token and returns the body. No auth layer, no validation.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const apiUrl = process.env.DRIO_API_URL;
const token = process.env.FLOOR_BEARER_TOKEN;
const server = new McpServer({ name: 'rest-floor', version: '0.0.0' });
server.registerTool('list_apps', { description: 'GET /api/v1/apps' }, async () => {
  const res = await fetch(`${apiUrl}/api/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
  return { content: [{ type: 'text', text: await res.text() }] };
});
await server.connect(new StdioServerTransport());
