/**
 * Many seeds in a row, with totals: what `npm test` runs in its time box and what
 * `scripts/sim.ts --seeds A..B` / `--minutes M` runs for as long as asked.
 */
import { addFaultCounts, FAULT_KINDS } from './faults.js';
import type { ParameterBounds, RunParameters } from './parameters.js';
import { emptyStats, replayCommand, type RunStats, runSimulation, type SimulationResult } from './simulation.js';
import type { EngineVariant } from './variants.js';

export interface CampaignOptions {
  firstSeed: number;
  /** Seeds firstSeed..firstSeed+seedCount-1, unless the deadline comes first. */
  seedCount: number;
  /** Wall-clock deadline (performance.now() milliseconds). */
  deadlineMs?: number;
  bounds?: ParameterBounds;
  variant?: EngineVariant;
  /** Changes to each seed's parameters (e.g. turning on a fault the engine cannot survive yet). */
  adjust?: (parameters: RunParameters) => void;
  /** Stop at the first failing seed (default true). */
  stopOnFailure?: boolean;
  onResult?: (result: SimulationResult) => void;
}

export interface CampaignTotals {
  firstSeed: number;
  seedsRun: number;
  failures: SimulationResult[];
  stats: RunStats;
  wallMs: number;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignTotals> {
  const startedMs = performance.now();
  const totals: CampaignTotals = { firstSeed: options.firstSeed, seedsRun: 0, failures: [], stats: emptyStats(), wallMs: 0 };
  for (let index = 0; index < options.seedCount; index++) {
    if (options.deadlineMs !== undefined && performance.now() >= options.deadlineMs) break;
    const seed = options.firstSeed + index;
    const result = await runSimulation({
      seed,
      ...(options.bounds === undefined ? {} : { bounds: options.bounds }),
      ...(options.variant === undefined ? {} : { variant: options.variant }),
      ...(options.adjust === undefined ? {} : { adjust: options.adjust }),
    });
    totals.seedsRun++;
    addStats(totals.stats, result.stats);
    options.onResult?.(result);
    if (result.violation !== undefined) {
      totals.failures.push(result);
      if (options.stopOnFailure ?? true) break;
    }
  }
  totals.wallMs = performance.now() - startedMs;
  return totals;
}

export function addStats(total: RunStats, more: RunStats): void {
  for (const key of Object.keys(total) as (keyof RunStats)[]) {
    if (key === 'faults') addFaultCounts(total.faults, more.faults);
    else total[key] += more[key];
  }
}

/** The campaign's figures, one per line. */
export function describeTotals(totals: CampaignTotals): string[] {
  const { stats } = totals;
  const lastSeed = totals.firstSeed + totals.seedsRun - 1;
  const faults = FAULT_KINDS.filter((kind) => stats.faults[kind] > 0).map((kind) => `${kind} ${stats.faults[kind]}`);
  return [
    `seeds ${totals.firstSeed}..${lastSeed} (${totals.seedsRun} runs) in ${(totals.wallMs / 1000).toFixed(1)} s, ${totals.failures.length} failed`,
    `requests ${stats.operations} (writes ${stats.writes}, reads ${stats.reads}, flushes ${stats.flushes}); store requests ${stats.storeRequests}; objects landed ${stats.objectsLanded}`,
    `crashes survived ${stats.crashes}; clean restarts ${stats.cleanRestarts}; recoveries verified ${stats.recoveriesVerified}; fences ${stats.fences}; rollbacks ${stats.rollbacks}; reads failed with EIO ${stats.readFailures}`,
    `simulated time ${(stats.simulatedMs / 1000).toFixed(0)} s`,
    `faults injected: ${faults.join(', ') || 'none'}`,
  ];
}

/** The failure and the command that replays it (`flags`: the extra command-line flags the run used). */
export function describeFailure(result: SimulationResult, options: { variant?: EngineVariant | undefined; flags?: readonly string[] } = {}): string {
  return `seed ${result.seed} failed: ${result.violation}\nreplay: ${replayCommand(result.seed, options)}`;
}
