/**
 * The fio jobs of the benchmark, shared by every system measured: lsvd, nbdkit and s3backer run
 * exactly the same job, only the target differs (an NBD URI for fio's nbd engine, or a file for
 * libaio with O_DIRECT, so that the page cache never answers for the device).
 */

import assert from 'node:assert/strict';
import { BenchError } from './errors.js';

export const KIB_BYTES = 1024;
export const MIB_BYTES = 1024 * KIB_BYTES;
export const GIB_BYTES = 1024 * MIB_BYTES;

export type FioTarget = { kind: 'nbd'; uri: string } | { kind: 'file'; path: string };

export interface FioJob {
  /** Names the job in fio's output and in the report. */
  name: string;
  rw: 'read' | 'write' | 'randread' | 'randwrite';
  blockSizeBytes: number;
  ioDepth: number;
  /** The span of the device the job touches (fio `size`)... */
  regionBytes: number;
  /** ...starting here (fio `offset`); default 0. */
  offsetBytes?: number;
  /** Stop after this much I/O (fio `io_size`)... */
  ioBytes?: number;
  /** ...or after this long (fio `runtime` with `time_based`). Exactly one of the two. */
  runtimeSeconds?: number;
  /** fsync the target once the writes are done; fio counts that time in the job's runtime. */
  endFsync: boolean;
}

/** The NBD URI of a server on a Unix socket (NBD URI spec: `nbd+unix:///<export>?socket=<path>`). */
export function nbdUnixUri(socketPath: string, exportName = ''): string {
  return `nbd+unix:///${encodeURIComponent(exportName)}?socket=${socketPath}`;
}

/** fio's own random sequence is seeded too, so every system sees the same offsets. */
export const FIO_RANDOM_SEED = 1;

export function buildFioArgs(options: { job: FioJob; target: FioTarget }): string[] {
  const { job, target } = options;
  assert((job.ioBytes === undefined) !== (job.runtimeSeconds === undefined), `fio job ${job.name}: give ioBytes or runtimeSeconds`);
  assert(job.regionBytes % job.blockSizeBytes === 0, `fio job ${job.name}: the region is not whole blocks`);
  const args = [
    `--name=${job.name}`,
    `--rw=${job.rw}`,
    `--bs=${job.blockSizeBytes}`,
    `--iodepth=${job.ioDepth}`,
    `--size=${job.regionBytes}`,
    '--numjobs=1',
    '--randrepeat=1',
    `--randseed=${FIO_RANDOM_SEED}`,
    '--output-format=json',
  ];
  if (job.offsetBytes !== undefined) {
    args.push(`--offset=${job.offsetBytes}`);
  }
  if (job.ioBytes !== undefined) {
    args.push(`--io_size=${job.ioBytes}`);
  } else {
    args.push('--time_based=1', `--runtime=${job.runtimeSeconds}`);
  }
  if (job.endFsync) {
    args.push('--end_fsync=1');
  }
  if (target.kind === 'nbd') {
    args.push('--ioengine=nbd', `--uri=${target.uri}`);
  } else {
    args.push('--ioengine=libaio', '--direct=1', `--filename=${target.path}`);
  }
  return args;
}

export interface FioDirectionResult {
  ios: number;
  ioBytes: number;
  iops: number;
  bytesPerSecond: number;
  /** Mean completion latency. */
  meanLatencyMs: number;
}

export interface FioResult {
  jobName: string;
  read: FioDirectionResult;
  write: FioDirectionResult;
  /** The job's run time, including the final fsync when `endFsync` is set. */
  runtimeMs: number;
}

interface FioJsonDirection {
  total_ios: number;
  io_bytes: number;
  iops: number;
  bw_bytes: number;
  clat_ns?: { mean: number };
}

function direction(json: FioJsonDirection | undefined, jobName: string): FioDirectionResult {
  if (json === undefined || typeof json.total_ios !== 'number') {
    throw new BenchError('ERR_BENCH_FIO_OUTPUT', `fio job ${jobName}: no read/write section in the JSON output`);
  }
  return {
    ios: json.total_ios,
    ioBytes: json.io_bytes,
    iops: json.iops,
    bytesPerSecond: json.bw_bytes,
    meanLatencyMs: (json.clat_ns?.mean ?? 0) / 1e6,
  };
}

/**
 * Parses `fio --output-format=json`. Some engines print a line before the JSON (the nbd engine
 * says "fio: connected to NBD server"), so parsing starts at the first line that opens an object.
 */
export function parseFioOutput(stdout: string): FioResult {
  const jsonStart = stdout.search(/^\{/m);
  if (jsonStart === -1) {
    throw new BenchError('ERR_BENCH_FIO_OUTPUT', `fio printed no JSON: ${stdout.slice(0, 200)}`);
  }
  let parsed: { jobs?: Array<{ jobname: string; error: number; job_runtime: number; read?: FioJsonDirection; write?: FioJsonDirection }> };
  try {
    parsed = JSON.parse(stdout.slice(jsonStart)) as typeof parsed;
  } catch (error) {
    throw new BenchError('ERR_BENCH_FIO_OUTPUT', `fio's JSON does not parse: ${error instanceof Error ? error.message : String(error)}`);
  }
  const job = parsed.jobs?.[0];
  if (job === undefined || parsed.jobs?.length !== 1) {
    throw new BenchError('ERR_BENCH_FIO_OUTPUT', `fio's JSON holds ${parsed.jobs?.length ?? 0} jobs, expected 1`);
  }
  if (job.error !== 0) {
    throw new BenchError('ERR_BENCH_FIO_FAILED', `fio job ${job.jobname} failed with error ${job.error}`);
  }
  return { jobName: job.jobname, read: direction(job.read, job.jobname), write: direction(job.write, job.jobname), runtimeMs: job.job_runtime };
}

/** How much work each scenario does: `--quick` is a smoke run, the default a measurement. */
export interface BenchScale {
  nbdPathRuntimeSeconds: number;
  randomWriteIoBytes: number;
  randomWriteRegionBytes: number;
  sequentialWriteBytes: number;
  coldReadRegionBytes: number;
  coldRandomReadIoBytes: number;
  rssRegionBytes: number;
  recoveryObjectCounts: readonly number[];
  /** How long each of s3rver's PUT and GET rates is measured. */
  capacityProbeMs: number;
  /** The lsvd volume (and s3backer file) size for the S3 scenarios. */
  volumeSizeBytes: number;
}

export const FULL_SCALE: BenchScale = {
  nbdPathRuntimeSeconds: 5,
  randomWriteIoBytes: 32 * MIB_BYTES,
  randomWriteRegionBytes: GIB_BYTES,
  sequentialWriteBytes: 256 * MIB_BYTES,
  coldReadRegionBytes: 256 * MIB_BYTES,
  coldRandomReadIoBytes: 16 * MIB_BYTES,
  rssRegionBytes: 4 * GIB_BYTES,
  recoveryObjectCounts: [1_000, 10_000],
  capacityProbeMs: 3000,
  volumeSizeBytes: 8 * GIB_BYTES,
};

export const QUICK_SCALE: BenchScale = {
  nbdPathRuntimeSeconds: 1,
  randomWriteIoBytes: 4 * MIB_BYTES,
  randomWriteRegionBytes: 256 * MIB_BYTES,
  sequentialWriteBytes: 32 * MIB_BYTES,
  coldReadRegionBytes: 32 * MIB_BYTES,
  coldRandomReadIoBytes: 4 * MIB_BYTES,
  rssRegionBytes: 256 * MIB_BYTES,
  recoveryObjectCounts: [1_000],
  capacityProbeMs: 1000,
  volumeSizeBytes: GIB_BYTES,
};

/** 4 KiB random writes at QD32, then fsync: the fsync's time counts. */
export function randomWriteJob(scale: BenchScale): FioJob {
  return {
    name: 's3-rand-write-4k-qd32-fsync',
    rw: 'randwrite',
    blockSizeBytes: 4 * KIB_BYTES,
    ioDepth: 32,
    regionBytes: scale.randomWriteRegionBytes,
    ioBytes: scale.randomWriteIoBytes,
    endFsync: true,
  };
}

/** 1 MiB sequential writes at QD8 from offset 0, then fsync. Also fills the region for cold reads. */
export function sequentialWriteJob(options: { name: string; regionBytes: number }): FioJob {
  return {
    name: options.name,
    rw: 'write',
    blockSizeBytes: MIB_BYTES,
    ioDepth: 8,
    regionBytes: options.regionBytes,
    ioBytes: options.regionBytes,
    endFsync: true,
  };
}

/** 4 KiB random reads at QD64 over data written before the daemon restarted (no cache). */
export function coldRandomReadJob(scale: BenchScale): FioJob {
  return {
    name: 's3-cold-rand-read-4k-qd64',
    rw: 'randread',
    blockSizeBytes: 4 * KIB_BYTES,
    ioDepth: 64,
    regionBytes: scale.coldReadRegionBytes,
    ioBytes: scale.coldRandomReadIoBytes,
    endFsync: false,
  };
}

/** 1 MiB sequential reads at QD8 over data written before the daemon restarted. */
export function coldSequentialReadJob(scale: BenchScale): FioJob {
  return {
    name: 's3-cold-seq-read-1m-qd8',
    rw: 'read',
    blockSizeBytes: MIB_BYTES,
    ioDepth: 8,
    regionBytes: scale.coldReadRegionBytes,
    ioBytes: scale.coldReadRegionBytes,
    endFsync: false,
  };
}

/**
 * Every block of one half of the RSS region written once: 4 KiB blocks in random order (fio's
 * random map never repeats a block), the worst case for the extent map, or 1 MiB blocks in order.
 */
export function rssFillJob(options: { scale: BenchScale; pattern: 'random' | 'sequential'; half: 0 | 1 }): FioJob {
  const halfBytes = options.scale.rssRegionBytes / 2;
  const random = options.pattern === 'random';
  return {
    name: `rss-${options.pattern}-fill-half${options.half + 1}`,
    rw: random ? 'randwrite' : 'write',
    blockSizeBytes: random ? 4 * KIB_BYTES : MIB_BYTES,
    ioDepth: random ? 32 : 8,
    offsetBytes: options.half * halfBytes,
    regionBytes: halfBytes,
    ioBytes: halfBytes,
    endFsync: true,
  };
}
