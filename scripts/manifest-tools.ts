/** The tool list the MCP Bundle manifest shows, derived from the tools the server registers. */
import { TOOLS } from '../src/tools/index.js';

/** The first sentence of a tool description: what desktop hosts show in their tool list. */
export function firstSentence(description: string): string {
  // A sentence ends at . ! or ? followed by a capital letter or the end, so "e.g. deploy" does not cut it.
  const match = /^(.+?[.!?])(?=\s+[A-Z]|\s*$)/s.exec(description);
  return (match?.[1] ?? description).trim();
}

export function manifestTools(): Array<{ name: string; description: string }> {
  return TOOLS.map((tool) => ({ name: tool.name, description: firstSentence(tool.description) }));
}
