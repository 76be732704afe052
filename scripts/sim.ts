/**
 * The deterministic simulator's command line (docs/SIMULATION.md).
 *
 *   node --import tsx scripts/sim.ts --seed N [--verbose]      replay one seed (with a full trace)
 *   node --import tsx scripts/sim.ts --seeds A..B              run a range of seeds
 *   node --import tsx scripts/sim.ts --minutes M [--from S]    run seeds from S for M minutes
 *
 * --long picks bigger runs (more requests, larger volumes) than `npm test` does;
 * --variant NAME runs a deliberately broken engine (test/sim/variants.ts);
 * --keep-going does not stop at the first failing seed;
 * --crash-in-zombie-window and --late-deletes turn on faults lsvd cannot survive yet
 * (docs/SIMULATION.md "Findings" 1 and 2), to explore them.
 * Exits non-zero when any seed fails, printing its replay command.
 */
import { parseArgs } from 'node:util';
import { describeFailure, describeTotals, runCampaign } from '../test/sim/campaign.js';
import { LONG_RUN_BOUNDS, type RunParameters, SHORT_RUN_BOUNDS } from '../test/sim/parameters.js';
import { runSimulation } from '../test/sim/simulation.js';
import { type EngineVariant, findVariant } from '../test/sim/variants.js';

const MS_PER_MINUTE = 60_000;

function parseSeedRange(text: string): { firstSeed: number; seedCount: number } {
  const match = /^(\d+)\.\.(\d+)$/.exec(text);
  if (match === null) throw new Error(`--seeds takes A..B, got "${text}"`);
  const firstSeed = Number(match[1]);
  const lastSeed = Number(match[2]);
  if (lastSeed < firstSeed) throw new Error(`--seeds ${text}: the range is empty`);
  return { firstSeed, seedCount: lastSeed - firstSeed + 1 };
}

interface ReplayOptions {
  seed: number;
  verbose: boolean;
  long: boolean;
  variant: EngineVariant | undefined;
  adjust: (parameters: RunParameters) => void;
  /** The flags that change the run, for the replay command. */
  flags: string[];
}

async function replayOne(options: ReplayOptions): Promise<boolean> {
  const write = (line: string) => process.stdout.write(`${line}\n`);
  const result = await runSimulation({
    seed: options.seed,
    adjust: options.adjust,
    bounds: options.long ? LONG_RUN_BOUNDS : SHORT_RUN_BOUNDS,
    ...(options.verbose ? { trace: write } : {}),
    ...(options.variant === undefined ? {} : { variant: options.variant }),
  });
  write(`seed ${result.seed}: ${JSON.stringify(result.stats)}`);
  write(`bucket ${result.bucketDigest}`);
  if (result.violation === undefined) {
    write('ok');
    return true;
  }
  write(describeFailure(result, { variant: options.variant, flags: options.flags }));
  return false;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      minutes: { type: 'string' },
      from: { type: 'string', default: '1' },
      verbose: { type: 'boolean', default: false },
      long: { type: 'boolean', default: false },
      variant: { type: 'string' },
      'keep-going': { type: 'boolean', default: false },
      'crash-in-zombie-window': { type: 'boolean', default: false },
      'late-deletes': { type: 'boolean', default: false },
    },
  });
  const variant = values.variant === undefined ? undefined : findVariant(values.variant);
  const adjust = (parameters: RunParameters) => {
    if (values['crash-in-zombie-window']) parameters.crashInZombieWindow = true;
    if (values['late-deletes']) parameters.faults = { ...parameters.faults, lateDeletes: true };
  };
  const flags = (['long', 'crash-in-zombie-window', 'late-deletes'] as const).filter((name) => values[name]).map((name) => `--${name}`);
  if (values.seed !== undefined) {
    const ok = await replayOne({ seed: Number(values.seed), verbose: values.verbose, long: values.long, variant, adjust, flags });
    process.exitCode = ok ? 0 : 1;
    return;
  }
  let range: { firstSeed: number; seedCount: number; deadlineMs?: number };
  if (values.seeds !== undefined) range = parseSeedRange(values.seeds);
  else if (values.minutes !== undefined) range = { firstSeed: Number(values.from), seedCount: Number.MAX_SAFE_INTEGER, deadlineMs: performance.now() + Number(values.minutes) * MS_PER_MINUTE };
  else throw new Error('Give --seed N, --seeds A..B or --minutes M');
  let lastReportMs = performance.now();
  const totals = await runCampaign({
    ...range,
    bounds: values.long ? LONG_RUN_BOUNDS : SHORT_RUN_BOUNDS,
    stopOnFailure: !values['keep-going'],
    adjust,
    ...(variant === undefined ? {} : { variant }),
    onResult: (result) => {
      if (result.violation !== undefined) process.stdout.write(`${describeFailure(result, { variant, flags })}\n`);
      if (performance.now() - lastReportMs > 10_000) {
        lastReportMs = performance.now();
        process.stdout.write(`… seed ${result.seed}\n`);
      }
    },
  });
  for (const line of describeTotals(totals)) process.stdout.write(`${line}\n`);
  process.exitCode = totals.failures.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`sim failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
