/**
 * The long crash campaign: many rounds of "ext4 on lsvd through nbdfuse, a file workload,
 * kill -9 of the daemon, recovery, journal replay, fsck, every fsync-acknowledged file
 * checked" on one volume in s3rver (test/e2e/reliability/crash-rounds.ts; docs/RELIABILITY.md).
 *
 *   npm run build
 *   node --import tsx scripts/crash-campaign.ts --rounds 100 --seed 42
 *
 * Needs root, FUSE, loop devices, nbdfuse and e2fsprogs. Prints one line per round and the
 * totals; stops at the first broken promise, naming the seed, and exits 1.
 */

import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { CrashRounds, type CrashTotals, type RoundReport } from '../test/e2e/reliability/crash-rounds.js';

const MIB = 1024 * 1024;

function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`expected a whole number above 0, got "${text}"`);
  return value;
}

function parseSeed(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 31) throw new InvalidArgumentError(`expected a seed in 0..2^31-1, got "${text}"`);
  return value;
}

function describeRound(report: RoundReport): string {
  return `round ${report.round}: killed after ${report.killDelayMs} ms; ${report.workload.filesAcknowledged} files and `
    + `${report.workload.deletesAcknowledged} deletes acknowledged; journal ${report.journalNeededReplay ? 'replayed' : 'clean'}; `
    + `${report.objectsRecovered ?? '?'} objects recovered; fsck clean; ${report.filesVerified} files verified `
    + `(${(report.bytesVerified / MIB).toFixed(1)} MiB); ${(report.durationMs / 1000).toFixed(1)} s `
    + `(${Object.entries(report.phasesMs).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}`).join(', ')})`;
}

function describeTotals(totals: CrashTotals): string {
  return `${totals.rounds} rounds, ${totals.crashesSurvived} crashes survived, ${totals.filesAcknowledged} files acknowledged, `
    + `${totals.filesVerified} file checks passed (${(totals.bytesVerified / MIB).toFixed(0)} MiB read back), `
    + `${totals.journalReplays} journal replays, 0 files lost`;
}

interface CampaignFlags {
  rounds: number;
  seed?: number;
  roundsPerVolume: number;
  volumeSizeMib: number;
  killMinMs: number;
  killMaxMs: number;
  workers: number;
  workerBudgetMib: number;
}

function parseFlags(argv: string[]): CampaignFlags {
  const program = new Command('crash-campaign')
    .description('kill -9 lsvd under ext4 again and again; check fsck and every fsync-acknowledged file each time')
    .option('--rounds <n>', 'crash rounds', parsePositiveInteger, 100)
    .option('--seed <n>', 'seed of the kill moments and the workload (default: random, printed)', parseSeed)
    .option('--rounds-per-volume <n>', 'start a fresh volume (and s3rver) after this many rounds: recovery replays the whole log, '
      + 'and s3rver slows down past ten thousand objects', parsePositiveInteger, 20)
    .option('--volume-size-mib <n>', 'size of the volume', parsePositiveInteger, 512)
    .option('--kill-min-ms <n>', 'earliest kill after the workload starts', parsePositiveInteger, 300)
    .option('--kill-max-ms <n>', 'latest kill after the workload starts', parsePositiveInteger, 5_000)
    .option('--workers <n>', 'concurrent workload workers', parsePositiveInteger, 2)
    .option('--worker-budget-mib <n>', 'each worker deletes its oldest files past this much acknowledged data', parsePositiveInteger, 24)
    .parse(argv);
  const flags = program.opts<CampaignFlags>();
  if (flags.killMaxMs < flags.killMinMs) throw new InvalidArgumentError('--kill-max-ms must be at least --kill-min-ms');
  return flags;
}

function addTotals(sum: CrashTotals, more: CrashTotals): CrashTotals {
  return {
    rounds: sum.rounds + more.rounds,
    crashesSurvived: sum.crashesSurvived + more.crashesSurvived,
    filesAcknowledged: sum.filesAcknowledged + more.filesAcknowledged,
    filesVerified: sum.filesVerified + more.filesVerified,
    bytesVerified: sum.bytesVerified + more.bytesVerified,
    journalReplays: sum.journalReplays + more.journalReplays,
  };
}

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv);
  const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 31);
  console.log(`crash campaign: ${flags.rounds} rounds, ${flags.roundsPerVolume} per volume, seed ${seed} (replay with --seed ${seed})`);
  const startedMs = Date.now();
  // Ctrl-C ends the campaign after the current round, so nothing is left mounted; a second one exits at once.
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.log('SIGINT: stopping after this round (again to exit at once, leaving mounts behind)');
  });
  let totals: CrashTotals = { rounds: 0, crashesSurvived: 0, filesAcknowledged: 0, filesVerified: 0, bytesVerified: 0, journalReplays: 0 };
  for (let volume = 0; totals.rounds < flags.rounds && !interrupted && process.exitCode !== 1; volume++) {
    // Each volume has its own seed, derived from the campaign's, so one volume can be replayed alone.
    const volumeSeed = (seed + volume * 7919) % 2 ** 31;
    console.log(`volume ${volume + 1}: a fresh volume, seed ${volumeSeed}`);
    const rounds = await CrashRounds.start({
      seed: volumeSeed, volumeSizeBytes: flags.volumeSizeMib * MIB, killDelayMinMs: flags.killMinMs, killDelayMaxMs: flags.killMaxMs,
      workerCount: flags.workers, workerBytesBudget: flags.workerBudgetMib * MIB,
    });
    try {
      while (rounds.totals().rounds < flags.roundsPerVolume && totals.rounds + rounds.totals().rounds < flags.rounds && !interrupted) {
        const report = await rounds.runRound();
        console.log(describeRound({ ...report, round: totals.rounds + report.round }));
      }
    } catch (error) {
      console.error(`crash campaign FAILED in round ${totals.rounds + rounds.totals().rounds + 1} (volume ${volume + 1}, seed ${volumeSeed}): `
        + `${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      process.exitCode = 1;
    } finally {
      await rounds.close();
      totals = addTotals(totals, rounds.totals());
    }
  }
  if (process.exitCode === 1) {
    console.error(`before the failure: ${describeTotals(totals).replace(', 0 files lost', '')}`);
  } else {
    console.log(`crash campaign passed: ${describeTotals(totals)} in ${((Date.now() - startedMs) / 60_000).toFixed(1)} min (seed ${seed})`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((error: unknown) => {
    console.error(`crash-campaign: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
