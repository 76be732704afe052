import test from 'ava';
import { buildFioArgs, FULL_SCALE, MIB_BYTES, nbdUnixUri, parseFioOutput, QUICK_SCALE, randomWriteJob, rssFillJob } from '../../scripts/bench/jobs.js';
import type { FioJob } from '../../scripts/bench/jobs.js';

const job: FioJob = { name: 'probe', rw: 'randwrite', blockSizeBytes: 4096, ioDepth: 32, regionBytes: 64 * MIB_BYTES, ioBytes: MIB_BYTES, endFsync: true };

test('the same job gives the same fio options for an NBD URI and for a file, apart from the target', (t) => {
  const nbd = buildFioArgs({ job, target: { kind: 'nbd', uri: nbdUnixUri('/tmp/x.sock') } });
  const file = buildFioArgs({ job, target: { kind: 'file', path: '/mnt/s3backer/file' } });
  const isTargetOption = (arg: string): boolean => /^--(ioengine|uri|filename|direct)=/.test(arg);
  t.deepEqual(nbd.filter((arg) => !isTargetOption(arg)), file.filter((arg) => !isTargetOption(arg)));
  t.true(nbd.includes('--ioengine=nbd') && nbd.includes('--uri=nbd+unix:///?socket=/tmp/x.sock'));
  t.true(file.includes('--ioengine=libaio') && file.includes('--direct=1') && file.includes('--filename=/mnt/s3backer/file'));
  for (const expected of ['--rw=randwrite', '--bs=4096', '--iodepth=32', `--size=${64 * MIB_BYTES}`, `--io_size=${MIB_BYTES}`, '--end_fsync=1', '--output-format=json', '--randrepeat=1']) {
    t.true(nbd.includes(expected), expected);
  }
});

test('a timed job runs time-based and never also by size', (t) => {
  const { ioBytes: _ioBytes, ...withoutSize } = job;
  const args = buildFioArgs({ job: { ...withoutSize, runtimeSeconds: 5, endFsync: false }, target: { kind: 'nbd', uri: 'nbd://x' } });
  t.true(args.includes('--time_based=1') && args.includes('--runtime=5'));
  t.false(args.some((arg) => arg.startsWith('--io_size') || arg.startsWith('--end_fsync')));
  t.throws(() => buildFioArgs({ job: { ...job, runtimeSeconds: 5 }, target: { kind: 'nbd', uri: 'nbd://x' } }), { code: 'ERR_ASSERTION' });
});

test('the RSS fill jobs split the region into two halves that touch every block once', (t) => {
  for (const scale of [QUICK_SCALE, FULL_SCALE]) {
    const first = rssFillJob({ scale, pattern: 'random', half: 0 });
    const second = rssFillJob({ scale, pattern: 'random', half: 1 });
    t.is(first.offsetBytes, 0);
    t.is(second.offsetBytes, scale.rssRegionBytes / 2);
    t.is(first.regionBytes + second.regionBytes, scale.rssRegionBytes);
    t.is(first.ioBytes, first.regionBytes);
    t.true(buildFioArgs({ job: second, target: { kind: 'nbd', uri: 'nbd://x' } }).includes(`--offset=${scale.rssRegionBytes / 2}`));
  }
  t.is(randomWriteJob(QUICK_SCALE).blockSizeBytes, 4096);
});

function fioJson(overrides: Record<string, unknown> = {}): string {
  const direction = (ios: number) => ({ total_ios: ios, io_bytes: ios * 4096, iops: ios / 2, bw_bytes: (ios * 4096) / 2, clat_ns: { mean: 2_500_000 } });
  return JSON.stringify({ 'fio version': 'fio-3.33', jobs: [{ jobname: 'probe', error: 0, job_runtime: 2000, read: direction(0), write: direction(1000), ...overrides }] }, null, 2);
}

test('fio JSON output is parsed even after the line the nbd engine prints first', (t) => {
  const result = parseFioOutput(`fio: connected to NBD server\n${fioJson()}\n`);
  t.is(result.jobName, 'probe');
  t.is(result.runtimeMs, 2000);
  t.deepEqual(result.write, { ios: 1000, ioBytes: 4_096_000, iops: 500, bytesPerSecond: 2_048_000, meanLatencyMs: 2.5 });
  t.is(result.read.ios, 0);
});

test('fio output without JSON, with a failed job or with several jobs is rejected with a code', (t) => {
  t.throws(() => parseFioOutput('fio: engine nbd not loadable\n'), { code: 'ERR_BENCH_FIO_OUTPUT' });
  t.throws(() => parseFioOutput('{ "jobs": [ {'), { code: 'ERR_BENCH_FIO_OUTPUT' });
  t.throws(() => parseFioOutput(fioJson({ error: 5 })), { code: 'ERR_BENCH_FIO_FAILED' });
  const twoJobs = JSON.parse(fioJson()) as { jobs: unknown[] };
  twoJobs.jobs.push(twoJobs.jobs[0]);
  t.throws(() => parseFioOutput(JSON.stringify(twoJobs)), { code: 'ERR_BENCH_FIO_OUTPUT' });
});
