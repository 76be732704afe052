/**
 * `npm run bench`: every benchmark scenario, one table, optionally a JSON report.
 *
 *   node --import tsx scripts/bench/run.ts [--runs 3] [--quick] [--json report.json]
 *                                          [--only nbd-path,s3-writes] [--work-dir DIR] [--keep]
 *
 * It installs the Debian tools it needs (scripts/install-debian-packages.sh), builds lsvd, runs
 * each scenario (each figure the median of `--runs` runs), and reports every scenario it could
 * not run as "not run: <reason>" instead of stopping. Everything listens on loopback; every
 * process and mount it starts is stopped before it exits, also on SIGINT.
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { CleanupStack } from './cleanup.js';
import { NotRunError } from './errors.js';
import { FULL_SCALE, QUICK_SCALE } from './jobs.js';
import { checkLsvdCli } from './lsvd-daemon.js';
import { describeMachine, describeMachineInOneLine } from './machine.js';
import { killRunningCommands, runCommand } from './processes.js';
import type { ResultRow } from './report.js';
import { evaluateRow, formatTable, writeJsonReport } from './report.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import { interruption } from './scenario.js';
import { memoryScenario } from './scenarios/memory.js';
import { nbdPathScenario } from './scenarios/nbd-path.js';
import { recoveryScenario } from './scenarios/recovery.js';
import { s3ReadsScenario } from './scenarios/s3-reads.js';
import { s3WritesScenario } from './scenarios/s3-writes.js';
import { s3rverCapacityScenario } from './scenarios/s3rver-capacity.js';

const REPOSITORY_DIRECTORY = resolve(import.meta.dirname, '..', '..');
const SCENARIOS: readonly Scenario[] = [nbdPathScenario, s3rverCapacityScenario, s3WritesScenario, s3ReadsScenario, recoveryScenario, memoryScenario];
const REQUIRED_TOOLS = ['fio', 'nbdkit', 'nbdinfo', 'nbdfuse', 's3backer', 'fusermount'];
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const BUILD_TIMEOUT_MS = 5 * 60_000;
const TOOL_LOOKUP_TIMEOUT_MS = 10_000;
const DEFAULT_RUNS = 3;
const QUICK_RUNS = 1;

interface BenchFlags {
  runs?: number;
  quick: boolean;
  json?: string;
  only?: string[];
  workDir?: string;
  keep: boolean;
  build: boolean;
  install: boolean;
  seed: number;
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  }
  return value;
}

function parseScenarioList(text: string): string[] {
  const ids = text.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !SCENARIOS.some((scenario) => scenario.id === id));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((scenario) => scenario.id).join(', ')}`);
  }
  return ids;
}

async function missingTools(): Promise<Set<string>> {
  const missing = new Set<string>();
  for (const tool of REQUIRED_TOOLS) {
    const found = await runCommand({ command: 'sh', args: ['-c', `command -v ${tool}`], timeoutMs: TOOL_LOOKUP_TIMEOUT_MS });
    if (found.exitCode !== 0) {
      missing.add(tool);
    }
  }
  // Both FUSE peers need the kernel's FUSE device, not only their binaries.
  const fuseDevice = await runCommand({ command: 'test', args: ['-c', '/dev/fuse'], timeoutMs: TOOL_LOOKUP_TIMEOUT_MS });
  if (fuseDevice.exitCode !== 0) {
    missing.add('nbdfuse').add('s3backer');
  }
  return missing;
}

/** Builds lsvd (unless told not to) and checks its CLI; returns why lsvd cannot run, if it cannot. */
async function lsvdNotRunReason(flags: BenchFlags): Promise<string | undefined> {
  if (flags.build) {
    log('building lsvd (npm run build)');
    const build = await runCommand({ command: 'npm', args: ['run', 'build', '--silent'], timeoutMs: BUILD_TIMEOUT_MS, cwd: REPOSITORY_DIRECTORY });
    if (build.exitCode !== 0) {
      const firstError = `${build.stdout}\n${build.stderr}`.split('\n').find((line) => line.includes('error')) ?? `exit ${build.exitCode}`;
      return `npm run build failed: ${firstError.trim()}`;
    }
  }
  try {
    await checkLsvdCli(REPOSITORY_DIRECTORY);
    return undefined;
  } catch (error) {
    if (error instanceof NotRunError) {
      return error.message;
    }
    throw error;
  }
}

async function runScenarios(context: ScenarioContext, scenarios: readonly Scenario[]): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const scenario of scenarios) {
    if (interruption.signal.aborted) {
      break;
    }
    log(`scenario ${scenario.id}: ${scenario.title}`);
    const startedMs = performance.now();
    rows.push(...(await scenario.run(context)));
    log(`scenario ${scenario.id}: done in ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
  }
  return rows;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('bench')
    .description('Benchmarks lsvd against nbdkit, s3backer and its goals')
    .option('--runs <n>', `runs per figure; the figure is their median (default ${DEFAULT_RUNS}, ${QUICK_RUNS} with --quick)`, parsePositiveInteger)
    .option('--quick', 'a smoke run: small sizes, short jobs', false)
    .option('--json <path>', 'also write the report as JSON')
    .option('--only <ids>', `only these scenarios (${SCENARIOS.map((scenario) => scenario.id).join(', ')})`, parseScenarioList)
    .option('--work-dir <dir>', 'where sockets, mounts, logs and s3rver data go, kept afterwards (default: a new temporary directory)')
    .option('--keep', 'keep the work directory (logs, s3rver data) afterwards', false)
    .option('--no-build', 'use the lsvd already built in dist/')
    .option('--no-install', 'do not run scripts/install-debian-packages.sh')
    .option('--seed <n>', 'seed of the proxy and the fixtures', parsePositiveInteger, 1)
    .parse(argv);
  const flags = program.opts<BenchFlags>();
  const startedAt = new Date().toISOString();
  const scale = flags.quick ? QUICK_SCALE : FULL_SCALE;
  const runs = flags.runs ?? (flags.quick ? QUICK_RUNS : DEFAULT_RUNS);
  const problems: string[] = [];

  if (flags.install) {
    log('checking Debian packages (scripts/install-debian-packages.sh)');
    const install = await runCommand({ command: join(REPOSITORY_DIRECTORY, 'scripts', 'install-debian-packages.sh'), args: [], timeoutMs: INSTALL_TIMEOUT_MS });
    if (install.exitCode !== 0) {
      problems.push(`install-debian-packages.sh exited ${install.exitCode}: ${install.stderr.trim().slice(0, 300)}`);
    }
  }
  const missing = await missingTools();
  const machine = await describeMachine();
  log(`machine: ${describeMachineInOneLine(machine)}`);
  const workDirectory = flags.workDir !== undefined ? resolve(flags.workDir) : await mkdtemp(join(tmpdir(), 'lsvd-bench-'));
  await mkdir(workDirectory, { recursive: true });
  const notRunReason = await lsvdNotRunReason(flags);
  if (notRunReason !== undefined) {
    log(`lsvd: not run: ${notRunReason}`);
  }
  const context: ScenarioContext = { repositoryDirectory: REPOSITORY_DIRECTORY, workDirectory, scale, runs, seed: flags.seed, missingTools: missing, log, problems };
  if (notRunReason !== undefined) {
    context.lsvdNotRunReason = notRunReason;
  }

  const interrupted = async (signal: NodeJS.Signals): Promise<void> => {
    log(`${signal}: stopping every process and mount`);
    interruption.abort();
    killRunningCommands();
    for (const failure of await CleanupStack.runAllPending()) {
      log(`cleanup: ${failure}`);
    }
    process.exit(130);
  };
  process.once('SIGINT', (signal) => void interrupted(signal));
  process.once('SIGTERM', (signal) => void interrupted(signal));

  const scenarios = SCENARIOS.filter((scenario) => flags.only === undefined || flags.only.includes(scenario.id));
  try {
    const rows = (await runScenarios(context, scenarios)).map(evaluateRow);
    process.stdout.write(`\n${describeMachineInOneLine(machine)}\n${runs} run(s) per figure, median shown; ${flags.quick ? 'quick' : 'full'} scale\n\n${formatTable(rows)}\n`);
    if (problems.length > 0) {
      process.stdout.write(`\nProblems:\n${problems.map((problem) => `  ${problem}`).join('\n')}\n`);
    }
    if (flags.json !== undefined) {
      await writeJsonReport(resolve(flags.json), {
        startedAt,
        finishedAt: new Date().toISOString(),
        command: [process.argv0, ...process.execArgv, ...argv.slice(1)].join(' '),
        options: { runs, quick: flags.quick, only: flags.only ?? null, seed: flags.seed, scale },
        machine,
        rows,
        problems,
      });
      log(`wrote ${resolve(flags.json)}`);
    }
  } finally {
    // Scenarios clean up after themselves; this only acts when one threw past its own cleanup.
    for (const failure of await CleanupStack.runAllPending()) {
      log(`cleanup: ${failure}`);
    }
    if (flags.keep || flags.workDir !== undefined) {
      log(`kept ${workDirectory}`);
    } else {
      await rm(workDirectory, { recursive: true, force: true });
    }
  }
  return problems.length === 0 ? 0 : 1;
}

main(process.argv).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
