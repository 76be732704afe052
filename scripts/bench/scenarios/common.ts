/** Pieces the S3 scenarios share: the environment, an lsvd volume per run, units. */

import { join } from 'node:path';
import { CleanupStack } from '../cleanup.js';
import { BenchError } from '../errors.js';
import type { FioResult } from '../jobs.js';
import { MIB_BYTES } from '../jobs.js';
import type { RunningLsvdDaemon } from '../lsvd-daemon.js';
import { startLsvdDaemon } from '../lsvd-daemon.js';
import type { S3Environment } from '../s3-environment.js';
import { startS3Environment } from '../s3-environment.js';
import type { ScenarioContext } from '../scenario.js';

/** The latency of the S3 rows (DESIGN.md goals are stated "at 50 ms"). */
export const S3_LATENCY_MS = 50;
/** The latency of the recovery rows. */
export const RECOVERY_LATENCY_MS = 20;

/** Starts s3rver and the proxy for one scenario, runs `action`, and always stops them. */
export async function withS3Environment<T>(options: { context: ScenarioContext; name: string; latencyMs: number; action: (environment: S3Environment) => Promise<T> }): Promise<T> {
  const cleanup = new CleanupStack();
  try {
    const environment = await startS3Environment({
      workDirectory: join(options.context.workDirectory, options.name),
      latencyMs: options.latencyMs,
      seed: options.context.seed,
      cleanup,
    });
    return await options.action(environment);
  } finally {
    for (const failure of await cleanup.runAll()) {
      options.context.problems.push(`${options.name} cleanup: ${failure}`);
    }
  }
}

/** An lsvd daemon on a fresh volume (its own key prefix), stopped by `cleanup` if still running. */
export async function startVolume(options: {
  context: ScenarioContext;
  environment: S3Environment;
  directory: string;
  cleanup: CleanupStack;
  prefix: string;
  /** Distinguishes the daemons of one run (their logs and sockets). */
  name?: string;
}): Promise<RunningLsvdDaemon> {
  const name = options.name ?? 'lsvd';
  const daemon = await startLsvdDaemon({
    repositoryDirectory: options.context.repositoryDirectory,
    endpoint: options.environment.proxy.endpoint,
    bucket: options.environment.bucket,
    prefix: options.prefix,
    sizeBytes: options.context.scale.volumeSizeBytes,
    socketPath: join(options.directory, `${name}.sock`),
    runDirectory: join(options.directory, `${name}-run`),
    logPath: join(options.directory, `${name}.log`),
  });
  options.cleanup.defer(`stop ${name} (pid ${daemon.pid})`, () => daemon.stop());
  return daemon;
}

export function writeMibPerSecond(result: FioResult, elapsedMs: number): number {
  return result.write.ioBytes / MIB_BYTES / (elapsedMs / 1000);
}

export function readMibPerSecond(result: FioResult): number {
  return result.read.bytesPerSecond / MIB_BYTES;
}

export function requestCount(environment: S3Environment, method: string): number {
  return environment.proxy.stats().byMethod[method] ?? 0;
}

/** Runs a run's cleanup early (to stop a daemon and let it flush before counting); throws if any step failed. */
export async function stopEverything(cleanup: CleanupStack): Promise<void> {
  const failures = await cleanup.runAll();
  if (failures.length > 0) {
    throw new BenchError('ERR_BENCH_COMMAND_FAILED', failures.join('; '));
  }
}

/**
 * Like `stopEverything`, for a daemon whose figure was already taken (its start-up, its log): a
 * failed shutdown goes to the report's problems instead of discarding the figure.
 */
export async function stopKeepingFigure(options: { cleanup: CleanupStack; context: ScenarioContext; what: string }): Promise<void> {
  await stopEverything(options.cleanup).catch((error: unknown) => {
    options.context.problems.push(`${options.what}: ${error instanceof Error ? error.message : String(error)}`);
  });
}
