import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import test from 'ava';
import { CleanupStack } from '../../scripts/bench/cleanup.js';
import { NotRunError } from '../../scripts/bench/errors.js';
import { runFio } from '../../scripts/bench/fio.js';
import { KIB_BYTES, MIB_BYTES, nbdUnixUri } from '../../scripts/bench/jobs.js';
import { checkLsvdCli, startLsvdDaemon } from '../../scripts/bench/lsvd-daemon.js';
import type { BenchReport } from '../../scripts/bench/report.js';
import { startS3Environment } from '../../scripts/bench/s3-environment.js';

const REPOSITORY_DIRECTORY = resolve(import.meta.dirname, '..', '..');

function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const lsvdNotRunReason = await checkLsvdCli(REPOSITORY_DIRECTORY).then(
  () => undefined,
  (error: unknown) => (error instanceof NotRunError ? error.message : String(error)),
);

test('the lsvd runner reports "not run", with a code, where the CLI is not built', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-bench-no-cli-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  await t.throwsAsync(checkLsvdCli(directory), { instanceOf: NotRunError, code: 'ERR_BENCH_NOT_RUN', message: /not built/ });
});

const lsvdTitle = 'the lsvd runner starts `lsvd run` against the proxy, sees its socket, and SIGTERM stops it cleanly';
if (lsvdNotRunReason === undefined) {
  test(lsvdTitle, async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'lsvd-bench-daemon-test-'));
    const cleanup = new CleanupStack();
    t.teardown(async () => {
      await cleanup.runAll();
      await rm(directory, { recursive: true, force: true });
    });
    const environment = await startS3Environment({ workDirectory: directory, latencyMs: 5, seed: 1, cleanup });
    const daemon = await startLsvdDaemon({
      repositoryDirectory: REPOSITORY_DIRECTORY,
      endpoint: environment.proxy.endpoint,
      bucket: environment.bucket,
      prefix: 'runner-test/',
      sizeBytes: 256 * MIB_BYTES,
      socketPath: join(directory, 'lsvd.sock'),
      runDirectory: join(directory, 'run'),
      logPath: join(directory, 'lsvd.log'),
    });
    cleanup.defer('stop lsvd', () => daemon.stop());
    t.true(daemon.startupMs > 0);
    const memory = await daemon.readMemory();
    t.true(memory.rssBytes > 0 && memory.peakRssBytes >= memory.rssBytes);
    const putsBefore = environment.proxy.stats().byMethod['PUT'] ?? 0;
    const job = { name: 'runner-write', rw: 'write' as const, blockSizeBytes: 64 * KIB_BYTES, ioDepth: 4, regionBytes: MIB_BYTES, ioBytes: MIB_BYTES, endFsync: true };
    const result = await runFio({ job, target: { kind: 'nbd', uri: nbdUnixUri(daemon.socketPath) } });
    t.is(result.write.ioBytes, MIB_BYTES);
    // The fsync reached S3: at least one log object was PUT through the proxy.
    t.true((environment.proxy.stats().byMethod['PUT'] ?? 0) > putsBefore);
    t.true((await daemon.stop()) >= 0);
    t.is(daemon.process.child.exitCode, 0);
  });
} else if (process.env['CI'] !== undefined) {
  test(lsvdTitle, (t) => t.fail(`the lsvd CLI cannot run: ${lsvdNotRunReason}`));
} else {
  test.skip(`${lsvdTitle} (skipped: ${lsvdNotRunReason})`, () => undefined);
}

test('a quick bench run of one scenario prints the table and writes a JSON report with the machine and the command', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-bench-harness-test-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const jsonPath = join(directory, 'report.json');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'scripts/bench/run.ts', '--quick', '--only', 's3rver-capacity', '--no-install', '--no-build', '--json', jsonPath, '--work-dir', join(directory, 'work')],
    { cwd: REPOSITORY_DIRECTORY, timeout: 60_000 },
  );
  t.regex(stdout, /s3rver capacity: 4 KiB PUT, 64 in flight\s+—\s+[\d,.]+ req\/s \(s3rver, no proxy\)/);
  const report = JSON.parse(await readFile(jsonPath, 'utf8')) as BenchReport;
  t.is(report.rows.length, 2);
  t.true(report.rows.every((row) => (row.reference?.median ?? 0) > 0 && row.reference?.samples.length === 1));
  t.true(report.machine.cpuCores > 0 && report.machine.memoryBytes > 0 && report.machine.node === process.version);
  t.regex(report.command, /scripts\/bench\/run\.ts --quick --only s3rver-capacity/);
  t.deepEqual(report.problems, []);
  t.like(report.options, { runs: 1, quick: true });
});

async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry) && Number(entry) !== process.pid) {
      const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (commandLine.includes(text)) {
        found.push(`${entry}: ${commandLine.replaceAll('\0', ' ')}`);
      }
    }
  }
  return found;
}

async function mountsUnder(directory: string): Promise<string[]> {
  const mountInfo = await readFile('/proc/self/mountinfo', 'utf8');
  return mountInfo.split('\n').flatMap((line) => {
    const mountPoint = line.split(' ')[4];
    return mountPoint?.startsWith(directory) === true ? [mountPoint] : [];
  });
}

const interruptTitle = 'SIGINT during a scenario unmounts, stops every process it started and exits 130';
if (installed('s3backer') && installed('fio')) {
  test(interruptTitle, async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'lsvd-bench-interrupt-test-'));
    t.teardown(() => rm(directory, { recursive: true, force: true }));
    const workDirectory = join(directory, 'work');
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/run.ts', '--quick', '--only', 's3-writes', '--no-install', '--no-build', '--work-dir', workDirectory], {
      cwd: REPOSITORY_DIRECTORY,
      stdio: 'ignore',
    });
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    const exited = once(child, 'exit');
    const deadlineMs = performance.now() + 60_000;
    while ((await mountsUnder(workDirectory)).length === 0) {
      t.true(performance.now() < deadlineMs, 'no s3backer mount appeared within 60 s');
      await sleep(50);
    }
    child.kill('SIGINT');
    const [exitCode] = (await exited) as [number | null];
    t.is(exitCode, 130);
    t.deepEqual(await mountsUnder(workDirectory), []);
    t.deepEqual(await processesMentioning(workDirectory), []);
  });
} else if (process.env['CI'] !== undefined) {
  test(interruptTitle, (t) => t.fail('s3backer or fio is missing: run scripts/install-debian-packages.sh'));
} else {
  test.skip(`${interruptTitle} (skipped: s3backer or fio not installed)`, () => undefined);
}
