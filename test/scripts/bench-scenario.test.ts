import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CleanupStack } from '../../scripts/bench/cleanup.js';
import { BenchError, NotRunError } from '../../scripts/bench/errors.js';
import { QUICK_SCALE } from '../../scripts/bench/jobs.js';
import type { ResultRow } from '../../scripts/bench/report.js';
import type { ScenarioContext } from '../../scripts/bench/scenario.js';
import { interruption, repeatRuns, requireLsvd, requireTools, runPart } from '../../scripts/bench/scenario.js';

async function makeContext(t: { teardown(fn: () => Promise<void>): void }, overrides: Partial<ScenarioContext> = {}): Promise<ScenarioContext> {
  const workDirectory = await mkdtemp(join(tmpdir(), 'lsvd-bench-scenario-test-'));
  t.teardown(() => rm(workDirectory, { recursive: true, force: true }));
  return { repositoryDirectory: process.cwd(), workDirectory, scale: QUICK_SCALE, runs: 3, seed: 1, missingTools: new Set(), log: () => undefined, problems: [], ...overrides };
}

function row(metric: string): ResultRow {
  return { scenario: 'test', metric, unit: 'IOPS', referenceLabel: 'reference', goal: { kind: 'none' } };
}

test.serial('cleanup actions run newest first, each one even after another failed', async (t) => {
  const cleanup = new CleanupStack();
  const order: string[] = [];
  cleanup.defer('first', async () => order.push('first'));
  cleanup.defer('second', async () => {
    order.push('second');
    throw new Error('boom');
  });
  cleanup.defer('third', async () => order.push('third'));
  t.deepEqual(await cleanup.runAll(), ['second: boom']);
  t.deepEqual(order, ['third', 'second', 'first']);
  t.deepEqual(await cleanup.runAll(), []);
});

test.serial('every pending stack is undone, the newest stack first, and only once', async (t) => {
  const order: string[] = [];
  const older = new CleanupStack();
  const newer = new CleanupStack();
  older.defer('close the S3 server', async () => order.push('s3'));
  newer.defer('stop the daemon', async () => order.push('daemon'));
  const [failures] = await Promise.all([CleanupStack.runAllPending(), newer.runAll(), older.runAll()]);
  t.deepEqual(failures, []);
  t.deepEqual(order, ['daemon', 's3']);
});

test.serial('a part that cannot run marks its side of its rows, and only a real failure is a problem', async (t) => {
  const context = await makeContext(t);
  const rows = [row('a'), row('b')];
  await runPart({ what: 'lsvd side', rows, side: 'lsvd', context, action: async () => requireLsvd({ ...context, lsvdNotRunReason: 'no run command' }) });
  await runPart({ what: 'reference side', rows, side: 'reference', context, action: async () => {
    throw new BenchError('ERR_BENCH_TIMEOUT', 's3backer mount: not ready');
  } });
  t.deepEqual(rows.map((result) => [result.notRun, result.referenceNotRun]), [
    ['not run: no run command', 'failed: s3backer mount: not ready'],
    ['not run: no run command', 'failed: s3backer mount: not ready'],
  ]);
  t.deepEqual(context.problems, ['reference side: s3backer mount: not ready']);
  t.throws(() => requireTools({ ...context, missingTools: new Set(['s3backer']) }, ['fio', 's3backer']), { instanceOf: NotRunError, message: /missing s3backer/ });
});

test.serial('each run gets its own directory and cleanup, undone even when the run throws', async (t) => {
  const context = await makeContext(t);
  const undone: number[] = [];
  const results = await repeatRuns({
    context,
    name: 'probe',
    action: async ({ runIndex, directory, cleanup }) => {
      cleanup.defer('note', async () => undone.push(runIndex));
      t.true((await stat(directory)).isDirectory());
      return directory;
    },
  });
  t.deepEqual(results, [1, 2, 3].map((run) => join(context.workDirectory, `probe-run${run}`)));
  t.deepEqual(undone, [0, 1, 2]);
  await t.throwsAsync(
    repeatRuns({
      context,
      name: 'failing',
      action: async ({ cleanup }) => {
        cleanup.defer('stop the daemon', async () => {
          throw new Error('exited 1');
        });
        throw new Error('fio failed');
      },
    }),
    { message: 'fio failed' },
  );
  t.deepEqual(context.problems, ['failing run 1 cleanup: stop the daemon: exited 1']);
});

// Last: the interruption cannot be undone within this process.
test.serial('after an interruption no further run starts', async (t) => {
  const context = await makeContext(t);
  interruption.abort();
  let started = 0;
  await t.throwsAsync(
    repeatRuns({
      context,
      name: 'interrupted',
      action: async () => {
        started += 1;
      },
    }),
    { instanceOf: NotRunError, message: 'interrupted' },
  );
  t.is(started, 0);
});
