// `npm run bench`: drio-mcp against its physical floor, measured side by side in one run and alternating,
// so the machine's noise cancels out of the ratios. Loopback only: every server here is the local sandbox.
//
//   1. cold start   spawn -> `initialize` response: dist/index.js vs a bare, unbundled SDK server (bench/floor-server.mjs)
//   2. warm call    list_apps with a stored token vs a bare SDK server doing the same GET with a fixed token
//   3. requests     HTTP requests per warm call; token requests for one refresh under 50 concurrent calls
//   4. memory       RSS vs the REST floor after equal work; growth from the 1,000th to the 2,000th call
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession } from '../src/auth/index.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { startSandbox, type Sandbox } from '../test/sandbox/index.js';
import { RpcProcess } from './rpc-process.js';
import { fmtMiB, fmtMs, summarize, type Summary } from './stats.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DRIO = path.join(root, 'dist', 'index.js');
const FLOOR = path.join(root, 'bench', 'floor-server.mjs');
const REST_FLOOR = path.join(root, 'bench', 'rest-floor-server.mjs');
const GC_PROBE = path.join(root, 'bench', 'gc-probe.cjs');

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 25);
const WARM_CALLS = Number(process.env.BENCH_WARM_CALLS ?? 400);
const MEMORY_CALLS = 2000;
const MEMORY_ROUNDS = Number(process.env.BENCH_MEMORY_ROUNDS ?? 3);

/** Signs in once through the real auth layer (sandbox HTML login over HTTP) and returns the access token. */
async function signIn(sandbox: Sandbox, configDir: string): Promise<string> {
  const config = loadConfig({ DRIO_API_URL: sandbox.apiUrl, DRIO_MCP_CONFIG_DIR: configDir });
  const session = createSession(config, {
    logger: silentLogger,
    stderr: () => {},
    openUrl: async (url) => void (await sandbox.completeLogin(url)),
  });
  try {
    return await session.getAccessToken();
  } finally {
    await session.close();
  }
}

function serverEnv(sandbox: Sandbox, configDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DRIO_API_URL: sandbox.apiUrl,
    DRIO_MCP_CONFIG_DIR: configDir,
    DRIO_MCP_NO_BROWSER: '1',
    DRIO_MCP_LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function timeColdStart(script: string, env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const proc = new RpcProcess(process.execPath, [script], env);
  await proc.request('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'bench', version: '0' },
  });
  const elapsed = performance.now() - started;
  await proc.close();
  return elapsed;
}

async function timedCall(proc: RpcProcess): Promise<number> {
  const started = performance.now();
  const reply = (await proc.callTool('list_apps')) as { result?: { isError?: boolean } };
  const elapsed = performance.now() - started;
  if (!reply.result || reply.result.isError) throw new Error(`list_apps failed: ${JSON.stringify(reply).slice(0, 300)}\n${proc.stderr.slice(-2000)}`);
  return elapsed;
}

const sumOtherRequests = (requests: Record<string, number>, except: string) =>
  Object.entries(requests).reduce((total, [key, n]) => (key === except ? total : total + n), 0);

interface Row {
  name: string;
  drio: string;
  floor: string;
  ratio: string;
  goal: string;
  met: boolean;
}

function ratioRow(name: string, drio: Summary, floor: Summary, goal: number, fmt = fmtMs): Row {
  const ratio = drio.median / floor.median;
  return {
    name,
    drio: `${fmt(drio.median)} (p95 ${fmt(drio.p95)}, ${fmt(drio.min)}–${fmt(drio.max)})`,
    floor: `${fmt(floor.median)} (p95 ${fmt(floor.p95)}, ${fmt(floor.min)}–${fmt(floor.max)})`,
    ratio: `${ratio.toFixed(2)}×`,
    goal: `≤ ${goal.toFixed(2)}×`,
    met: ratio <= goal,
  };
}

async function main(): Promise<void> {
  const sandbox = await startSandbox();
  const work = await mkdtemp(path.join(tmpdir(), 'drio-mcp-bench-'));
  const rows: Row[] = [];
  const facts: string[] = [];
  try {
    const configDir = path.join(work, 'config');
    const token = await signIn(sandbox, configDir);
    const env = serverEnv(sandbox, configDir);

    // 1. Cold start, alternating which server goes first.
    const coldDrio: number[] = [];
    const coldFloor: number[] = [];
    for (let i = 0; i < COLD_RUNS; i += 1) {
      if (i % 2 === 0) {
        coldDrio.push(await timeColdStart(DRIO, env));
        coldFloor.push(await timeColdStart(FLOOR, env));
      } else {
        coldFloor.push(await timeColdStart(FLOOR, env));
        coldDrio.push(await timeColdStart(DRIO, env));
      }
    }
    rows.push(ratioRow('cold start → initialize', summarize(coldDrio), summarize(coldFloor), 1.0));

    // 2. Warm calls, alternating, after a warm-up.
    // Both servers carry the same GC probe so memory is compared after a full collection.
    const probe = ['-r', GC_PROBE, '--expose-gc'];
    const probeEnv = { ...env, GC_PROBE_DIR: work };
    const drio = new RpcProcess(process.execPath, [...probe, DRIO], probeEnv);
    const floor = new RpcProcess(process.execPath, [...probe, REST_FLOOR], { ...probeEnv, FLOOR_BEARER_TOKEN: token });
    await Promise.all([drio.initialize(), floor.initialize()]);
    for (let i = 0; i < 30; i += 1) {
      await timedCall(drio);
      await timedCall(floor);
    }
    const warmDrio: number[] = [];
    const warmFloor: number[] = [];
    for (let i = 0; i < WARM_CALLS; i += 1) {
      if (i % 2 === 0) {
        warmDrio.push(await timedCall(drio));
        warmFloor.push(await timedCall(floor));
      } else {
        warmFloor.push(await timedCall(floor));
        warmDrio.push(await timedCall(drio));
      }
    }
    const warmDrioSummary = summarize(warmDrio);
    const warmFloorSummary = summarize(warmFloor);
    rows.push(ratioRow('warm list_apps (p50)', warmDrioSummary, warmFloorSummary, 1.05));
    facts.push(`warm list_apps p95: drio-mcp ${fmtMs(warmDrioSummary.p95)} vs floor ${fmtMs(warmFloorSummary.p95)} (${(warmDrioSummary.p95 / warmFloorSummary.p95).toFixed(2)}×)`);

    // 3a. Requests per warm call: only drio-mcp talks to the sandbox in this window.
    sandbox.resetCounters();
    const probeCalls = 100;
    for (let i = 0; i < probeCalls; i += 1) await timedCall(drio);
    const apiRequests = sandbox.counters.requests['GET /api/v1/apps'] ?? 0;
    const otherRequests = sumOtherRequests(sandbox.counters.requests, 'GET /api/v1/apps');
    facts.push(`HTTP requests per warm call: ${(apiRequests / probeCalls).toFixed(2)} to drio, ${(otherRequests / probeCalls).toFixed(2)} to anything else (goal: exactly 1 and 0)`);

    await Promise.all([drio.close(), floor.close()]);

    // 4. Memory after equal work, in fresh pairs of processes (RSS varies from process to process by several
    // per cent, so one pair is not enough): each pair makes 2,000 alternating calls; the median ratio is reported.
    const rounds: Array<{ ratio: number; heapRatio: number; drio: NodeJS.MemoryUsage; floor: NodeJS.MemoryUsage; growth: { drio: number; floor: number } }> = [];
    for (let round = 0; round < MEMORY_ROUNDS; round += 1) {
      const d = new RpcProcess(process.execPath, [...probe, DRIO], probeEnv);
      const f = new RpcProcess(process.execPath, [...probe, REST_FLOOR], { ...probeEnv, FLOOR_BEARER_TOKEN: token });
      await Promise.all([d.initialize(), f.initialize()]);
      const alternate = async (calls: number) => {
        for (let i = 0; i < calls; i += 1) {
          await timedCall(d);
          await timedCall(f);
        }
      };
      await alternate(MEMORY_CALLS / 2);
      const at1000 = { drio: await d.memoryAfterGc(), floor: await f.memoryAfterGc() };
      await alternate(MEMORY_CALLS / 2);
      const at2000 = { drio: await d.memoryAfterGc(), floor: await f.memoryAfterGc() };
      rounds.push({
        ratio: at2000.drio.rss / at2000.floor.rss,
        heapRatio: at2000.drio.heapUsed / at2000.floor.heapUsed,
        drio: at2000.drio,
        floor: at2000.floor,
        growth: { drio: at2000.drio.heapUsed - at1000.drio.heapUsed, floor: at2000.floor.heapUsed - at1000.floor.heapUsed },
      });
      await Promise.all([d.close(), f.close()]);
    }
    rounds.sort((a, b) => a.ratio - b.ratio);
    const mid = rounds[Math.floor(rounds.length / 2)]!;
    rows.push({
      name: `RSS after 2,000 calls (after GC, median of ${MEMORY_ROUNDS} pairs)`,
      drio: fmtMiB(mid.drio.rss),
      floor: fmtMiB(mid.floor.rss),
      ratio: `${mid.ratio.toFixed(2)}× (${rounds[0]!.ratio.toFixed(2)}–${rounds[rounds.length - 1]!.ratio.toFixed(2)}×)`,
      goal: '≤ 1.10×',
      met: mid.ratio <= 1.1,
    });
    facts.push(
      `JS heap after GC at call 2,000: drio-mcp ${fmtMiB(mid.drio.heapUsed)} vs floor ${fmtMiB(mid.floor.heapUsed)} (${mid.heapRatio.toFixed(2)}×)`,
      `heap growth from call 1,000 to 2,000 (after GC), per pair: drio-mcp ${rounds.map((r) => fmtMiB(r.growth.drio)).join(', ')}; floor ${rounds.map((r) => fmtMiB(r.growth.floor)).join(', ')}`,
    );

    // 3b. One refresh under 50 concurrent calls: a fresh sign-in with a short-lived token, then a burst after expiry.
    sandbox.setAccessTokenTtl(4);
    const shortDir = path.join(work, 'short');
    await signIn(sandbox, shortDir);
    const burst = new RpcProcess(process.execPath, [DRIO], serverEnv(sandbox, shortDir));
    await burst.initialize();
    await new Promise((resolve) => setTimeout(resolve, 4500));
    sandbox.resetCounters();
    await Promise.all(Array.from({ length: 50 }, () => timedCall(burst)));
    const refreshGrants = sandbox.counters.grants.refresh_token ?? 0;
    facts.push(`token requests for 50 concurrent calls after expiry: ${refreshGrants} refresh grant(s), ${sandbox.counters.invalidGrant} invalid_grant (goal: 1 and 0)`);
    await burst.close();
    sandbox.setAccessTokenTtl(3600);

    const lines = [
      `drio-mcp benchmark — node ${process.version}, ${new Date().toISOString()}`,
      `cold runs ${COLD_RUNS} each, warm calls ${WARM_CALLS} each, alternating; median (p95, min–max)`,
      '',
      '| measure | drio-mcp | floor | ratio | goal | met |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${r.drio} | ${r.floor} | ${r.ratio} | ${r.goal} | ${r.met ? 'yes' : 'NO'} |`),
      '',
      ...facts.map((f) => `- ${f}`),
    ];
    const report = lines.join('\n');
    // Printed for the person running the benchmark; this script is not the MCP server.
    process.stdout.write(`${report}\n`);
    await mkdir(path.join(root, '.bench'), { recursive: true });
    await writeFile(path.join(root, '.bench', 'last.md'), `${report}\n`);
  } finally {
    await sandbox.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
