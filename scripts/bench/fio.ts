/** Runs one fio job against one target and returns its parsed result. */

import { BenchError } from './errors.js';
import type { FioJob, FioResult, FioTarget } from './jobs.js';
import { buildFioArgs, parseFioOutput } from './jobs.js';
import { runCommand } from './processes.js';

/** fio's own start-up and shutdown, on top of the job's run time, fit well within this. */
const FIO_OVERHEAD_MS = 60_000;

/** The slowest job of the full scale (s3backer's random writes at 50 ms) ends well within this. */
export const FIO_JOB_TIMEOUT_MS = 15 * 60_000;

export async function runFio(options: { job: FioJob; target: FioTarget; timeoutMs?: number }): Promise<FioResult & { wallMs: number }> {
  const timeoutMs = options.timeoutMs ?? (options.job.runtimeSeconds !== undefined ? options.job.runtimeSeconds * 1000 + FIO_OVERHEAD_MS : FIO_JOB_TIMEOUT_MS);
  const result = await runCommand({ command: 'fio', args: buildFioArgs({ job: options.job, target: options.target }), timeoutMs });
  if (result.exitCode !== 0) {
    throw new BenchError('ERR_BENCH_FIO_FAILED', `fio job ${options.job.name} exited with ${result.exitCode}: ${result.stderr.trim().slice(0, 500)}`);
  }
  return { ...parseFioOutput(result.stdout), wallMs: result.durationMs };
}
