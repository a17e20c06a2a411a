/**
 * Reliability 2, crash safety: a process is SIGKILLed at random moments while it writes the credential store through
 * the real store module. After every kill the store must hold the last state the writer confirmed or the one it was
 * writing (never a torn, mixed or missing file), keep its owner-only modes, and still read correctly in a new process
 * despite the temp files the killed writes leave behind.
 */
import { spawn } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../../src/auth/index.js';
import { openCredentialStore } from '../../src/auth/store.js';
import { createLogger } from '../../src/log.js';
import { tempDir, testConfig } from '../helpers/config.js';
import { CRASH_API_URL, credentialStateFor, generationOf } from './fixtures/store-states.js';
import { seededRandom } from './support.js';

const ITERATIONS = 150;
/** Past this, stop early rather than blow the suite's time on a loaded machine, but never before MIN_ITERATIONS. */
const BUDGET_MS = 15_000;
const MIN_ITERATIONS = 100;
/** The kill lands uniformly in [0, MAX_KILL_DELAY_MS) after the writer reported its start. */
const MAX_KILL_DELAY_MS = 25;

let work: { dir: string; cleanup: () => Promise<void> };
let writerScript: string;

beforeAll(async () => {
  work = await tempDir('drio-mcp-crash-');
  // Bundled once with esbuild, as dist/ ships the store: a bundled child starts in ~0.09 s where `node --import tsx`
  // takes ~0.37 s, which is what lets 150 kills fit in the time budget. Same banner as scripts/build.mjs.
  writerScript = path.join(work.dir, 'store-writer.mjs');
  await build({
    entryPoints: [path.join(import.meta.dirname, 'fixtures', 'store-writer.ts')],
    outfile: writerScript,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: {
      js:
        "import { createRequire as __drioCreateRequire } from 'node:module'; import { fileURLToPath as __drioFileURLToPath } from 'node:url'; " +
        'const require = __drioCreateRequire(import.meta.url); const __filename = __drioFileURLToPath(import.meta.url);',
    },
    logLevel: 'warning',
  });
});
afterAll(async () => work?.cleanup());

interface KilledRun {
  signal: NodeJS.Signals | null;
  code: number | null;
  /** Generation the child read from the store at start-up. */
  startGeneration: number | undefined;
  /** Last generation whose write resolved before the kill. */
  lastWritten: number | undefined;
  stderr: string;
}

/** Starts the writer, SIGKILLs it `delayMs` after it reported its start, and collects what it said. */
function runAndKill(configDir: string, delayMs: number): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writerScript, configDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (killTimer === undefined && stdout.includes('start ')) killTimer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    // 'close' (not 'exit'): every line printed before the kill has been read from the pipe by then.
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      const numbers = (word: string) => [...stdout.matchAll(new RegExp(`^${word} (\\d+)$`, 'gm'))].map((m) => Number(m[1]));
      resolve({ signal, code, startGeneration: numbers('start')[0], lastWritten: numbers('wrote').at(-1), stderr });
    });
  });
}

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

/** What one lane of kills saw. */
interface LaneFigures {
  iterations: number;
  confirmedWrites: number;
  /** Temp files left in the directory at the end: each one is a kill that landed inside a write, before its rename. */
  leftovers: number;
  /** Kills that landed after the rename but before the writer could confirm it. */
  killedAfterRename: number;
}

/**
 * Kills writers over and over in `configDir` (nested and not yet created, so the first runs also cover a crash while
 * the directory and the first file are made), checking the store after every kill: `iterations` times, or at least
 * `minIterations` times once `deadline` has passed.
 */
async function killLane(
  configDir: string,
  label: string,
  random: () => number,
  counts: { iterations: number; minIterations: number; deadline: number },
): Promise<LaneFigures> {
  const warnings: string[] = [];
  const parentStore = () => openCredentialStore(configDir, CRASH_API_URL, { logger: createLogger({ level: 'warn', write: (l) => void warnings.push(l) }) });
  const storeFile = parentStore().path;
  const tempPrefix = `${path.basename(storeFile)}.`;

  /** The generation on disk, after checking the raw bytes are exactly that generation's state (0: no file). */
  const generationOnDisk = async (where: string): Promise<number> => {
    let text: string;
    try {
      text = await readFile(storeFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let raw: Parameters<typeof generationOf>[0];
    try {
      raw = JSON.parse(text) as typeof raw;
    } catch {
      return expect.fail(`${where}: the store is torn: ${text.length} bytes that are not JSON`);
    }
    const generation = generationOf(raw);
    expect(raw, `${where}: the file is exactly generation ${generation}`).toEqual(credentialStateFor(generation));
    // And the real reader, in a fresh store instance, agrees without a warning.
    expect(await parentStore().read(), where).toEqual(credentialStateFor(generation));
    expect(warnings, where).toEqual([]);
    return generation;
  };

  const figures: LaneFigures = { iterations: 0, confirmedWrites: 0, leftovers: 0, killedAfterRename: 0 };
  const goOn = () => figures.iterations < counts.iterations && (Date.now() < counts.deadline || figures.iterations < counts.minIterations);
  for (; goOn(); figures.iterations += 1) {
    const where = `${label}, iteration ${figures.iterations}`;
    const before = await generationOnDisk(where);
    const run = await runAndKill(configDir, Math.floor(random() * MAX_KILL_DELAY_MS));

    expect(run.stderr, where).toBe('');
    expect(run.signal, `${where}: the writer must die by SIGKILL, not exit (code ${run.code})`).toBe('SIGKILL');
    // A new process read the previous crash's state back through the store, leftover temp files and all.
    expect(run.startGeneration, where).toBe(before);
    const confirmed = run.lastWritten ?? before;
    figures.confirmedWrites += confirmed - before;

    const after = await generationOnDisk(where);
    // Old (last confirmed) or new (the write in flight), nothing else: never torn, never rolled back, never lost.
    expect([confirmed, confirmed + 1], `${where}: on disk ${after}, confirmed ${confirmed}`).toContain(after);
    if (after === confirmed + 1) figures.killedAfterRename += 1;

    if (after > 0) expect(await modeOf(storeFile), where).toBe(0o600);
    expect(await modeOf(configDir), where).toBe(0o700);
    const entries = await readdir(configDir);
    const temps = entries.filter((e) => e.startsWith(tempPrefix));
    // Only the store and the temp files of writes cut short; each of those holds tokens, so it must be 0600 too.
    expect(entries.filter((e) => e !== path.basename(storeFile) && !temps.includes(e)), where).toEqual([]);
    for (const t of temps) expect(await modeOf(path.join(configDir, t)), `${where}: ${t}`).toBe(0o600);
    figures.leftovers = temps.length;
  }

  // After all that, the surviving store still takes a normal write and reads it back.
  const last = await generationOnDisk(`${label}, final`);
  await parentStore().write(credentialStateFor(last + 1));
  expect(await parentStore().read()).toEqual(credentialStateFor(last + 1));
  expect(warnings).toEqual([]);
  return figures;
}

describe('credential store under SIGKILL', () => {
  it('always holds the old or the new valid state, 0600 in a 0700 dir, and reads fine beside leftover temp files', async () => {
    const seed = Number(process.env.DRIO_MCP_CRASH_SEED ?? Date.now() % 1_000_000);
    const started = Date.now();
    // Two independent lanes (own directory, own seeded kill times): the parent mostly waits on child start-up.
    const lanes = await Promise.all(
      [0, 1].map((lane) =>
        killLane(path.join(work.dir, `lane-${lane}`, 'drio-mcp'), `seed ${seed}, lane ${lane}`, seededRandom(seed + lane), {
          iterations: ITERATIONS / 2,
          minIterations: MIN_ITERATIONS / 2,
          deadline: started + BUDGET_MS,
        }),
      ),
    );
    const total = (key: keyof LaneFigures) => lanes.reduce((sum, l) => sum + l[key], 0);

    expect(total('iterations')).toBeGreaterThanOrEqual(MIN_ITERATIONS);
    // The kills really landed inside writes: temp files were cut off before their rename.
    expect(total('leftovers')).toBeGreaterThan(0);
    console.info(
      `crash safety: ${total('iterations')} SIGKILLs in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${seed}); ${total('confirmedWrites')} confirmed writes; ` +
        `${total('leftovers')} kills inside a write (temp file left), ${total('killedAfterRename')} between rename and confirmation; store intact every time`,
    );
  }, 40_000);

  it('regression: logout kept tokens in the temp files that killed writes leave behind', async () => {
    const configDir = path.join(work.dir, 'logout', 'drio-mcp');
    const tempFiles = async () => (await readdir(configDir)).filter((e) => /^credentials-[0-9a-f]{16}\.json\.\d+$/.test(e));
    // Kill writers until one dies inside a write (about every other kill does).
    for (let i = 0; i < 60 && (await tempFiles().catch(() => [])).length === 0; i += 1) await runAndKill(configDir, i % MAX_KILL_DELAY_MS);
    expect((await tempFiles()).length).toBeGreaterThan(0);

    // Nothing listens on the sandbox-less API URL: revocation fails and the local tokens must go anyway.
    const session = createSession(testConfig(CRASH_API_URL, configDir, { requestTimeoutMs: 1000 }), { logger: createLogger({ level: 'silent' }) });
    await session.logout();
    await session.close();
    expect(await tempFiles()).toEqual([]);
    for (const entry of await readdir(configDir, { withFileTypes: true })) {
      if (entry.isFile()) expect(await readFile(path.join(configDir, entry.name), 'utf8'), entry.name).not.toMatch(/at-gen-|rt-gen-/);
    }
  });
});
