import test from 'ava';
import { parseProcStatusMemory } from '../../scripts/bench/processes.js';
import type { ResultRow } from '../../scripts/bench/report.js';
import { evaluateRow, formatMarkdownTable, formatNumber, formatTable, measurement, median } from '../../scripts/bench/report.js';
import { parseS3backerStats } from '../../scripts/bench/s3backer.js';

test('the median of an odd count is the middle value, of an even count the mean of the middle two', (t) => {
  t.is(median([5, 1, 3]), 3);
  t.is(median([4, 1, 3, 100]), 3.5);
  t.is(median([7]), 7);
  t.throws(() => median([]), { code: 'ERR_ASSERTION' });
  t.deepEqual(measurement([3, 1, 2]), { median: 2, samples: [3, 1, 2] });
});

const base: ResultRow = { scenario: 'S3', metric: 'random write', unit: 'IOPS', referenceLabel: 's3backer', goal: { kind: 'ratio-at-least', ratio: 20 } };

test('a ratio goal is met when lsvd divided by the reference reaches it, and pending without lsvd', (t) => {
  t.like(evaluateRow({ ...base, lsvd: measurement([4000]), reference: measurement([200]) }), { ratio: 20, met: true });
  t.like(evaluateRow({ ...base, lsvd: measurement([3999]), reference: measurement([200]) }), { met: false });
  const pending = evaluateRow({ ...base, reference: measurement([200]), notRun: 'not run: no CLI' });
  t.is(pending.met, undefined);
  t.is(pending.ratio, undefined);
});

test('absolute goals compare lsvd alone, whatever the reference', (t) => {
  t.like(evaluateRow({ ...base, goal: { kind: 'at-least', value: 200 }, lsvd: measurement([250]) }), { met: true });
  t.like(evaluateRow({ ...base, goal: { kind: 'at-least', value: 200 }, lsvd: measurement([150]) }), { met: false });
  t.like(evaluateRow({ ...base, goal: { kind: 'at-most', value: 2 }, lsvd: measurement([1.5]) }), { met: true });
  t.like(evaluateRow({ ...base, goal: { kind: 'at-most', value: 2 }, lsvd: measurement([2.5]) }), { met: false });
  t.is(evaluateRow({ ...base, goal: { kind: 'none' }, lsvd: measurement([1]) }).met, undefined);
});

test('the table shows figures, ratio, goal and verdict, and lists why rows were not run', (t) => {
  const rows = [
    evaluateRow({ ...base, lsvd: measurement([4500]), reference: measurement([200]) }),
    evaluateRow({ ...base, metric: 'sequential write', unit: 'MiB/s', reference: measurement([19.7]), notRun: 'not run: the lsvd CLI has no run command' }),
    evaluateRow({ ...base, metric: 'reads', referenceNotRun: 'failed: s3backer did not mount' }),
  ];
  const table = formatTable(rows);
  t.regex(table, /S3: random write\s+4,500 IOPS\s+200 IOPS \(s3backer\)\s+22\.5×\s+≥ 20× ref\s+yes/);
  t.regex(table, /S3: sequential write\s+not run\s+19\.7 MiB\/s \(s3backer\)\s+—\s+≥ 20× ref\s+pending/);
  t.regex(table, /S3: reads\s+—\s+not run \(s3backer\)/);
  t.true(table.includes('S3: sequential write: lsvd not run: the lsvd CLI has no run command'));
  t.true(table.includes('S3: reads: s3backer failed: s3backer did not mount'));
  const markdown = formatMarkdownTable(rows);
  t.true(markdown.startsWith('| scenario | lsvd | reference | ratio | goal | met? |\n|---|---|---|---|---|---|\n'));
  t.is(markdown.split('\n').length, 5);
});

test('numbers keep three significant figures', (t) => {
  t.is(formatNumber(141_999.4), '141,999');
  t.is(formatNumber(19.74), '19.7');
  t.is(formatNumber(0.5234), '0.523');
  t.is(formatNumber(0), '0');
});

test('resident memory is read from the VmRSS and VmHWM lines of /proc/<pid>/status, in KiB', (t) => {
  const status = 'Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t7\n';
  t.deepEqual(parseProcStatusMemory(status), { rssBytes: 100 * 1024 * 1024, peakRssBytes: 200 * 1024 * 1024 });
  t.throws(() => parseProcStatusMemory('Name:\tkthreadd\n'), { code: 'ERR_BENCH_PROC_STATUS' });
});

test("s3backer's stats file is parsed into numbers by name", (t) => {
  const stats = parseS3backerStats('http_puts                    81\nhttp_avg_put_time            0.098 sec\nblock_cache_dirty_ratio      0.0010\nblock_cache_current_size     1000 blocks\n');
  t.deepEqual(stats, { http_puts: 81, http_avg_put_time: 0.098, block_cache_dirty_ratio: 0.001, block_cache_current_size: 1000 });
});
