/**
 * What every scenario shares: its context, the rows it fills in, and the rules for failure.
 * A part of a scenario (lsvd's side, or the reference's) that cannot run marks its rows
 * "not run: <reason>" and the harness carries on with the next part.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CleanupStack } from './cleanup.js';
import { NotRunError } from './errors.js';
import type { BenchScale } from './jobs.js';
import type { ResultRow } from './report.js';

export interface ScenarioContext {
  repositoryDirectory: string;
  /** Sockets, mounts, logs and s3rver's data: everything a run creates goes under here. */
  workDirectory: string;
  scale: BenchScale;
  /** Each figure is the median of this many runs. */
  runs: number;
  seed: number;
  /** Set when the lsvd CLI cannot be run: the lsvd side of every scenario is then not run. */
  lsvdNotRunReason?: string;
  /** Tools the scenarios need that are missing (`fio`, `s3backer`, ...). */
  missingTools: ReadonlySet<string>;
  log(message: string): void;
  /** Failures worth a line in the report (not the expected "not run"s). */
  problems: string[];
}

/** Aborted on SIGINT/SIGTERM: no new run starts, and the harness cleans up and exits. */
export const interruption = new AbortController();

export interface Scenario {
  id: string;
  title: string;
  run(context: ScenarioContext): Promise<ResultRow[]>;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs one part of a scenario; on failure its rows that still lack a reason for that side get one. */
export async function runPart(options: {
  what: string;
  rows: readonly ResultRow[];
  /** Which figure of the rows this part measures. */
  side: 'lsvd' | 'reference' | 'both';
  context: ScenarioContext;
  action: () => Promise<void>;
}): Promise<void> {
  try {
    await options.action();
  } catch (error) {
    const reason = error instanceof NotRunError ? `not run: ${error.message}` : `failed: ${describeError(error)}`;
    if (!(error instanceof NotRunError)) {
      options.context.problems.push(`${options.what}: ${describeError(error)}`);
    }
    options.context.log(`${options.what}: ${reason}`);
    for (const row of options.rows) {
      if (options.side !== 'reference') {
        row.notRun ??= reason;
      }
      if (options.side !== 'lsvd') {
        row.referenceNotRun ??= reason;
      }
    }
  }
}

export function requireLsvd(context: ScenarioContext): void {
  if (context.lsvdNotRunReason !== undefined) {
    throw new NotRunError(context.lsvdNotRunReason);
  }
}

export function requireTools(context: ScenarioContext, tools: readonly string[]): void {
  const missing = tools.filter((tool) => context.missingTools.has(tool));
  if (missing.length > 0) {
    throw new NotRunError(`missing ${missing.join(', ')} (scripts/install-debian-packages.sh installs them)`);
  }
}

/**
 * Runs `action` once per run, each time with a fresh directory and cleanup stack (processes
 * stopped, mounts unmounted even when the run fails); returns the runs' results in order.
 */
export async function repeatRuns<T>(options: {
  context: ScenarioContext;
  name: string;
  action: (run: { runIndex: number; directory: string; cleanup: CleanupStack }) => Promise<T>;
}): Promise<T[]> {
  const results: T[] = [];
  for (let runIndex = 0; runIndex < options.context.runs; runIndex += 1) {
    if (interruption.signal.aborted) {
      throw new NotRunError('interrupted');
    }
    const directory = join(options.context.workDirectory, `${options.name}-run${runIndex + 1}`);
    await mkdir(directory, { recursive: true });
    const cleanup = new CleanupStack();
    try {
      options.context.log(`${options.name}: run ${runIndex + 1} of ${options.context.runs}`);
      results.push(await options.action({ runIndex, directory, cleanup }));
    } finally {
      for (const failure of await cleanup.runAll()) {
        options.context.problems.push(`${options.name} run ${runIndex + 1} cleanup: ${failure}`);
      }
    }
  }
  return results;
}
