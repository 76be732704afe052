/**
 * NBD-path benchmark: the same fio jobs (ioengine=nbd) against `nbdkit memory` and against
 * lsvd's MemoryDevice served by scripts/serve-memory-device.ts, in one run, job by job
 * alternating the two servers so machine noise hits both alike.
 *
 *   node --import tsx scripts/bench-nbd.ts [--duration-seconds 10] [--json results.json]
 *
 * A benchmark, not a test: it prints a table (MiB/s or IOPS, and lsvd/nbdkit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEVICE_SIZE_BYTES = 1024 * 1024 * 1024;
const SERVER_START_TIMEOUT_MS = 30_000;

export interface NbdBenchmarkJob {
  name: string;
  readWrite: 'write' | 'read' | 'randwrite' | 'randread';
  blockSize: string;
  ioDepth: number;
  metric: 'MiB/s' | 'IOPS';
}

export const NBD_BENCHMARK_JOBS: readonly NbdBenchmarkJob[] = [
  { name: 'seq write 1 MiB qd8', readWrite: 'write', blockSize: '1m', ioDepth: 8, metric: 'MiB/s' },
  { name: 'seq read 1 MiB qd8', readWrite: 'read', blockSize: '1m', ioDepth: 8, metric: 'MiB/s' },
  { name: 'rand write 4 KiB qd32', readWrite: 'randwrite', blockSize: '4k', ioDepth: 32, metric: 'IOPS' },
  { name: 'rand read 4 KiB qd32', readWrite: 'randread', blockSize: '4k', ioDepth: 32, metric: 'IOPS' },
];

export interface NbdBenchmarkRow {
  job: string;
  metric: 'MiB/s' | 'IOPS';
  nbdkit: number;
  lsvd: number;
  /** lsvd / nbdkit. */
  ratio: number;
}

export interface NbdBenchmarkOptions {
  /** Seconds each fio job runs against each server (after one second of ramp). */
  durationSeconds?: number;
  jobs?: readonly NbdBenchmarkJob[];
  /** Called with each row as soon as it is measured. */
  onRow?: (row: NbdBenchmarkRow) => void;
}

/** Runs every job against both servers and returns one row per job. */
export async function runNbdPathBenchmark(options: NbdBenchmarkOptions = {}): Promise<NbdBenchmarkRow[]> {
  const durationSeconds = options.durationSeconds ?? 10;
  const jobs = options.jobs ?? NBD_BENCHMARK_JOBS;
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-bench-nbd-'));
  const servers: ChildProcess[] = [];
  try {
    const nbdkitSocket = join(directory, 'nbdkit.sock');
    const lsvdSocket = join(directory, 'lsvd.sock');
    const nbdkitArgs = ['-f', '-U', nbdkitSocket, 'memory', String(DEVICE_SIZE_BYTES)];
    servers.push(await startServer('nbdkit', nbdkitArgs, { readyWhen: 'socket', socket: nbdkitSocket }));
    const serveScript = join(REPOSITORY_ROOT, 'scripts/serve-memory-device.ts');
    const lsvdArgs = ['--import', 'tsx', serveScript, '--socket', lsvdSocket, '--size-bytes', String(DEVICE_SIZE_BYTES)];
    servers.push(await startServer(process.execPath, lsvdArgs, { readyWhen: 'stdout', socket: lsvdSocket }));
    const rows: NbdBenchmarkRow[] = [];
    for (const job of jobs) {
      const nbdkit = await runFio(job, { uri: `nbd+unix:///?socket=${nbdkitSocket}`, durationSeconds });
      const lsvd = await runFio(job, { uri: `nbd+unix:///memory?socket=${lsvdSocket}`, durationSeconds });
      const row = { job: job.name, metric: job.metric, nbdkit, lsvd, ratio: nbdkit === 0 ? 0 : lsvd / nbdkit };
      options.onRow?.(row);
      rows.push(row);
    }
    return rows;
  } finally {
    for (const server of servers) server.kill('SIGTERM');
    await Promise.all(servers.map((server) => (server.exitCode === null ? once(server, 'exit') : undefined)));
    await rm(directory, { recursive: true, force: true });
  }
}

async function startServer(
  command: string,
  args: string[],
  options: { readyWhen: 'stdout' | 'socket'; socket: string },
): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    child.once('exit', (code) => rejectReady(new Error(`${command} exited with ${code} before it was ready`)));
    child.once('error', rejectReady);
    if (options.readyWhen === 'stdout' && child.stdout !== null) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('ready')) resolveReady();
      });
    } else {
      void waitForSocket(options.socket).then(resolveReady, rejectReady);
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rejectTimeout) => {
    const error = new Error(`${command} did not start in ${SERVER_START_TIMEOUT_MS} ms`);
    timer = setTimeout(() => rejectTimeout(error), SERVER_START_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

async function waitForSocket(path: string): Promise<void> {
  for (;;) {
    const status = await new Promise<number | null>((resolveStatus) => {
      const probe = spawn('nbdinfo', ['--can', 'connect', `nbd+unix:///?socket=${path}`], { stdio: 'ignore' });
      probe.once('exit', resolveStatus);
      probe.once('error', () => resolveStatus(null));
    });
    if (status === 0) return;
    if (status === null) throw new Error('nbdinfo is not installed');
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
  }
}

/** One fio run; resolves MiB/s or IOPS of its direction. */
async function runFio(job: NbdBenchmarkJob, options: { uri: string; durationSeconds: number }): Promise<number> {
  const args = [
    '--name=bench',
    '--ioengine=nbd',
    `--uri=${options.uri}`,
    `--rw=${job.readWrite}`,
    `--bs=${job.blockSize}`,
    `--iodepth=${job.ioDepth}`,
    '--direct=1',
    `--size=${DEVICE_SIZE_BYTES}`,
    '--time_based',
    '--ramp_time=1',
    `--runtime=${options.durationSeconds}`,
    '--output-format=json',
  ];
  const child = spawn('fio', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`fio ${job.name} against ${options.uri} failed (${code}): ${stderr.trim()}`);
  // fio prints "fio: connected to NBD server" before the JSON on some versions.
  const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    jobs: Array<{ read: { bw_bytes: number; iops: number }; write: { bw_bytes: number; iops: number } }>;
  };
  const result = report.jobs[0];
  if (result === undefined) throw new Error(`fio ${job.name} reported no job`);
  const side = job.readWrite === 'write' || job.readWrite === 'randwrite' ? result.write : result.read;
  return job.metric === 'IOPS' ? side.iops : side.bw_bytes / (1024 * 1024);
}

export function formatRows(rows: readonly NbdBenchmarkRow[]): string {
  const line = (cells: string[]): string =>
    `${cells[0]?.padEnd(24)}${cells[1]?.padEnd(8)}${cells[2]?.padStart(12)}${cells[3]?.padStart(12)}${cells[4]?.padStart(13)}`;
  const lines = [line(['job', 'metric', 'nbdkit', 'lsvd', 'lsvd/nbdkit'])];
  for (const row of rows) {
    lines.push(line([row.job, row.metric, row.nbdkit.toFixed(0), row.lsvd.toFixed(0), row.ratio.toFixed(2)]));
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'duration-seconds': { type: 'string', default: '10' }, json: { type: 'string' } },
  });
  const durationSeconds = Number(values['duration-seconds']);
  if (!(durationSeconds > 0)) throw new Error('--duration-seconds must be positive');
  const rows = await runNbdPathBenchmark({
    durationSeconds,
    onRow: (row) => {
      process.stderr.write(`measured ${row.job}: nbdkit ${row.nbdkit.toFixed(0)}, lsvd ${row.lsvd.toFixed(0)} ${row.metric}\n`);
    },
  });
  process.stdout.write(`${formatRows(rows)}\n`);
  if (values.json !== undefined) {
    const report = { durationSeconds, deviceSizeBytes: DEVICE_SIZE_BYTES, rows };
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench-nbd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
