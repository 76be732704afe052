/**
 * The simulator in `npm test`: a few thousand seeded runs of the real engine against a faulty
 * simulated bucket, with crashes. A failure prints its seed and the command that replays it.
 *
 * LSVD_SIM_FIRST_SEED and LSVD_SIM_SEEDS choose the seeds (default: a random start, printed).
 */
import test from 'ava';
import { describeFailure, describeTotals, runCampaign } from './campaign.js';
import { runSimulation } from './simulation.js';

/** Tuned so the campaign takes about a minute on a 2-core machine shared with other tests. */
const SEED_COUNT = 2000;
/** A stop well before ava's 120 s timeout, for a machine far slower than expected (logged, not failed). */
const CAMPAIGN_DEADLINE_MS = 95_000;

function firstSeedFromEnvironment(): number {
  const fromEnvironment = process.env['LSVD_SIM_FIRST_SEED'];
  return fromEnvironment === undefined ? 1 + Math.floor(Math.random() * 1_000_000_000) : Number(fromEnvironment);
}

test('thousands of seeded runs of the real engine on a faulty bucket, with crashes, keep every invariant', async (t) => {
  const firstSeed = firstSeedFromEnvironment();
  const seedCount = Number(process.env['LSVD_SIM_SEEDS'] ?? SEED_COUNT);
  t.log(`seeds ${firstSeed}..${firstSeed + seedCount - 1} (replay one with: node --import tsx scripts/sim.ts --seed N --verbose)`);
  const totals = await runCampaign({ firstSeed, seedCount, deadlineMs: performance.now() + CAMPAIGN_DEADLINE_MS });
  for (const line of describeTotals(totals)) t.log(line);
  if (totals.seedsRun < seedCount && totals.failures.length === 0) t.log(`stopped by the time box after ${totals.seedsRun} of ${seedCount} seeds`);
  const failure = totals.failures[0];
  if (failure !== undefined) t.fail(describeFailure(failure));
  // The campaign really exercised what it claims to.
  const { stats } = totals;
  t.true(stats.crashes > 0 && stats.recoveriesVerified > stats.crashes, 'crashes happened and recoveries were checked');
  for (const kind of ['unavailable', 'throttled', 'timeout', 'lost-ack', 'outage', 'precondition-failed', 'crash-landed', 'crash-dropped'] as const) {
    t.true(stats.faults[kind] > 0, `${kind} faults were injected`);
  }
});

test('a seed replays exactly: the same bucket, the same figures', async (t) => {
  const seed = firstSeedFromEnvironment();
  const first = await runSimulation({ seed });
  const second = await runSimulation({ seed });
  t.is(first.violation, undefined, first.violation);
  t.is(second.bucketDigest, first.bucketDigest);
  t.deepEqual(second.stats, first.stats);
});

test('a simulated run never reads the wall clock or sets a real timer from the engine', async (t) => {
  const calls: string[] = [];
  const watched = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval, now: Date.now };
  const record = (what: string) => {
    // The frame that called the wrapper: only the project's own code is judged (p-queue reads
    // Date.now() for bookkeeping it never acts on without an interval or a timeout).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 4;
    const caller = (new Error().stack ?? '').split('\n')[3] ?? '';
    Error.stackTraceLimit = stackTraceLimit;
    if (/\/(daemon|recovery|store|logformat)\//.test(caller)) calls.push(`${what} from ${caller.trim()}`);
  };
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    record('setTimeout');
    return watched.setTimeout(...args);
  }) as typeof setTimeout;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    record('setInterval');
    return watched.setInterval(...args);
  }) as typeof setInterval;
  Date.now = () => {
    record('Date.now');
    return watched.now();
  };
  try {
    for (let seed = 1; seed <= 8; seed++) {
      const result = await runSimulation({ seed });
      t.is(result.violation, undefined, result.violation);
    }
  } finally {
    globalThis.setTimeout = watched.setTimeout;
    globalThis.setInterval = watched.setInterval;
    Date.now = watched.now;
  }
  t.deepEqual(calls, []);
});
