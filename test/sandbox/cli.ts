/**
 * `npm run sandbox`: run the drio sandbox (AS + API emulator on 127.0.0.1) until Ctrl-C.
 * Flags: --auth-port N, --api-port N, --ttl SECONDS (access token TTL).
 * Env: SANDBOX_AUTH_PORT, SANDBOX_API_PORT, SANDBOX_ACCESS_TOKEN_TTL.
 */
import { parseArgs } from 'node:util';
import { startSandbox } from './index.js';

function int(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`sandbox: ${name} must be a non-negative integer, got "${value}"`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    'auth-port': { type: 'string' },
    'api-port': { type: 'string' },
    ttl: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log('usage: npm run sandbox -- [--auth-port N] [--api-port N] [--ttl SECONDS]');
  console.log('env:   SANDBOX_AUTH_PORT, SANDBOX_API_PORT, SANDBOX_ACCESS_TOKEN_TTL');
  process.exit(0);
}

const sandbox = await startSandbox({
  authPort: int(values['auth-port'] ?? process.env.SANDBOX_AUTH_PORT, 'auth port') ?? 0,
  apiPort: int(values['api-port'] ?? process.env.SANDBOX_API_PORT, 'api port') ?? 0,
  accessTokenTtl: int(values.ttl ?? process.env.SANDBOX_ACCESS_TOKEN_TTL, 'ttl') || 3600,
}).catch((err: unknown) => {
  console.error(`sandbox: could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

console.log(`drio sandbox running (127.0.0.1 only)
  drio API:              ${sandbox.apiUrl}
  authorization server:  ${sandbox.issuer}
  test account:          username "ada" (${sandbox.user.name} <${sandbox.user.email}>, id ${sandbox.user.id})

Point drio-mcp at it:
  DRIO_API_URL=${sandbox.apiUrl} npx drio-mcp

Press Ctrl-C to stop.`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the sandbox`);
  sandbox.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
