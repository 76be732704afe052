/**
 * Runs lsvd as an operator would, in a child process:
 *
 *   node bin/lsvd.js run --store s3://<bucket>/<prefix> --endpoint <proxy> --size <bytes>
 *                        --socket <path> --attach none --run-dir <dir>
 *
 * (`--run-dir` keeps each daemon's runtime files inside the benchmark's work directory.)
 * with the credentials in AWS_* variables. It is ready when its socket accepts a connection;
 * SIGTERM stops it, and it exits 0 once everything acknowledged is uploaded.
 */

import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchError, NotRunError } from './errors.js';
import type { ProcessMemory, StartedProcess } from './processes.js';
import { readProcessMemory, runCommand, startProcess, stopProcess, unixSocketAccepts, waitUntil } from './processes.js';
import { S3RVER_CREDENTIALS, S3RVER_REGION } from './s3rver.js';

/** Recovery of 10,000 objects should take 3 s; this bounds a daemon that never gets ready. */
export const LSVD_READY_TIMEOUT_MS = 120_000;
/** SIGTERM flushes what is still buffered (at most the daemon's memory bound) before exit. */
export const LSVD_STOP_TIMEOUT_MS = 5 * 60_000;
const LSVD_HELP_TIMEOUT_MS = 30_000;

/** Variables an operator may have set that would point lsvd elsewhere than the benchmark's bucket. */
const INHERITED_VARIABLES_REMOVED = ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'AWS_PROFILE', 'BUCKET_NAME', 'FLY_LSVD_S3_BUCKET', 'FLY_LSVD_S3_ENDPOINT', 'FLY_LSVD_DEVICE_SIZE', 'FLY_LSVD_MOUNT_POINT'];

function lsvdEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_VARIABLES_REMOVED) {
    delete env[name];
  }
  return { ...env, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: S3RVER_REGION };
}

/** Throws NotRunError unless `node bin/lsvd.js run --help` works (the CLI is built and has `run`). */
export async function checkLsvdCli(repositoryDirectory: string): Promise<void> {
  const compiledMain = join(repositoryDirectory, 'dist', 'cli', 'main.js');
  if (!(await access(compiledMain).then(() => true, () => false))) {
    throw new NotRunError(`${compiledMain} is missing: the lsvd CLI is not built (npm run build)`);
  }
  const help = await runCommand({ command: process.execPath, args: [join(repositoryDirectory, 'bin', 'lsvd.js'), 'run', '--help'], timeoutMs: LSVD_HELP_TIMEOUT_MS, cwd: repositoryDirectory });
  if (help.exitCode !== 0 || !help.stdout.includes('--socket')) {
    const said = (help.stderr.trim() || help.stdout.trim()).split('\n')[0] ?? '';
    throw new NotRunError(`the lsvd CLI has no working \`run\` command yet (lsvd run --help: exit ${help.exitCode}${said === '' ? '' : `, "${said}"`})`);
  }
}

export interface LsvdDaemonOptions {
  repositoryDirectory: string;
  /** The proxy's endpoint: lsvd's S3 traffic takes the added latency. */
  endpoint: string;
  bucket: string;
  /** The volume's key prefix, ending in `/`. */
  prefix: string;
  sizeBytes: number;
  socketPath: string;
  runDirectory: string;
  logPath: string;
}

export interface RunningLsvdDaemon {
  pid: number;
  socketPath: string;
  process: StartedProcess;
  /** From spawn until the socket accepted a connection (includes recovery). */
  startupMs: number;
  readMemory(): Promise<ProcessMemory>;
  /** SIGTERM, then waits for a clean exit; returns how long the shutdown (final flush) took. */
  stop(): Promise<number>;
}

export function lsvdRunArgs(options: LsvdDaemonOptions): string[] {
  return [
    join(options.repositoryDirectory, 'bin', 'lsvd.js'),
    'run',
    '--store',
    `s3://${options.bucket}/${options.prefix}`,
    '--endpoint',
    options.endpoint,
    '--size',
    String(options.sizeBytes),
    '--socket',
    options.socketPath,
    '--attach',
    'none',
    '--run-dir',
    options.runDirectory,
  ];
}

export async function startLsvdDaemon(options: LsvdDaemonOptions): Promise<RunningLsvdDaemon> {
  const startedMs = performance.now();
  const started = startProcess({
    command: process.execPath,
    args: lsvdRunArgs(options),
    logPath: options.logPath,
    env: lsvdEnvironment(),
    cwd: options.repositoryDirectory,
  });
  try {
    await waitUntil({ what: 'lsvd run', condition: () => unixSocketAccepts(options.socketPath), timeoutMs: LSVD_READY_TIMEOUT_MS, process: started });
  } catch (error) {
    await stopProcess(started, { signal: 'SIGKILL', timeoutMs: LSVD_STOP_TIMEOUT_MS }).catch(() => undefined);
    throw error;
  }
  const startupMs = performance.now() - startedMs;
  return {
    pid: started.pid,
    socketPath: options.socketPath,
    process: started,
    startupMs,
    readMemory: () => readProcessMemory(started.pid),
    async stop(): Promise<number> {
      const stopStartedMs = performance.now();
      const outcome = await stopProcess(started, { signal: 'SIGTERM', timeoutMs: LSVD_STOP_TIMEOUT_MS });
      if (outcome !== 0) {
        throw new BenchError('ERR_BENCH_PROCESS_EXITED', `lsvd run exited with ${outcome} after SIGTERM; see ${options.logPath}`);
      }
      return performance.now() - stopStartedMs;
    },
  };
}

/**
 * The extent map's size as lsvd logs it when a volume is ready (`mapBytes` in its JSON log line):
 * after a restart, the map of everything written so far, counted by lsvd itself. Undefined when
 * no log line carries it.
 */
export async function readLoggedMapBytes(logPath: string): Promise<number | undefined> {
  let mapBytes: number | undefined;
  for (const line of (await readFile(logPath, 'utf8')).split('\n')) {
    if (line.startsWith('{') && line.includes('"mapBytes"')) {
      try {
        const record = JSON.parse(line) as { mapBytes?: unknown };
        mapBytes = typeof record.mapBytes === 'number' ? record.mapBytes : mapBytes;
      } catch {
        // Not JSON after all (a pretty-printed log): ignored.
      }
    }
  }
  return mapBytes;
}
