import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSession } from '../../src/auth/index.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { capture, tempDir, testConfig } from './helpers.js';

let sb: Sandbox;
beforeAll(async () => { sb = await startSandbox(); });
afterAll(async () => { await sb?.close(); });

it('smoke', async () => {
  const { dir } = await tempDir();
  const c = capture();
  const session = createSession(testConfig(sb.apiUrl, dir), { logger: c.logger, stderr: c.stderr, openUrl: async (url) => { await sb.completeLogin(url); } });
  const token = await session.getAccessToken();
  console.log(c.text());
  expect(token).toBeTruthy();
  console.log(sb.counters);
  await session.close();
});
