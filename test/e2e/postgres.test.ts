/**
 * Postgres on lsvd: initdb on the mounted volume (nbdfuse + loop + ext4, backed by s3rver),
 * pgbench for a while, stop Postgres, SIGTERM the daemon, start both again: Postgres starts
 * and the pgbench tables hold exactly what was committed.
 */

import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startS3rver } from '../helpers/s3rver.js';
import { startDaemon, type DaemonProcess } from './helpers/daemon.js';
import { haveTool, run } from './helpers/tools.js';

const PGBENCH_SECONDS = 15;
const PGBENCH_SCALE = 4;

async function postgresBin(): Promise<string | undefined> {
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? undefined : `/usr/lib/postgresql/${newest}/bin`;
}

test('pgbench commits survive stopping Postgres and the daemon and starting both again', async (t) => {
  t.timeout(600_000);
  const bin = await postgresBin();
  if (bin === undefined || !(await haveTool('nbdfuse')) || process.getuid?.() !== 0) {
    if (process.env['CI'] !== undefined) { t.fail('Postgres, nbdfuse and root are needed in CI'); return; }
    { t.pass('Postgres, nbdfuse or root missing (outside CI)'); return; }
  }
  const s3 = await startS3rver();
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-pg-'));
  await chmod(directory, 0o755);
  const mountPoint = join(directory, 'mnt');
  const socketPath = join(directory, 'nbd.sock');
  const dataDirectory = join(mountPoint, 'pgdata');
  const pgSocketDirectory = join(directory, 'pgsock');
  const asPostgres = (command: string, args: readonly string[], timeoutMs?: number): Promise<string> =>
    run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], timeoutMs === undefined ? {} : { timeoutMs });
  const psql = async (sql: string): Promise<string> => (await asPostgres('psql', ['-h', pgSocketDirectory, '-d', 'postgres', '-At', '-c', sql])).trim();
  const pgCtl = (action: 'start' | 'stop'): Promise<string> =>
    asPostgres('pg_ctl', action === 'start'
      ? ['-D', dataDirectory, '-w', '-l', join(pgSocketDirectory, 'postgres.log'), '-o', `-c listen_addresses='' -c unix_socket_directories=${pgSocketDirectory}`, 'start']
      : ['-D', dataDirectory, '-w', '-m', 'fast', 'stop']);
  const daemons: DaemonProcess[] = [];
  const startLsvd = async (): Promise<DaemonProcess> => {
    const daemon = await startDaemon({
      args: ['run', '--store', `s3://${s3.bucket}/pg/`, '--endpoint', s3.endpoint, '--size', '1GiB', '--attach', 'fuse', '--mount', mountPoint,
        '--socket', socketPath, '--run-dir', join(directory, 'run')],
      socketPath,
      waitForLog: /lsvd is ready|"level":(50|60)/,
    });
    daemons.push(daemon);
    return daemon;
  };
  let postgresRunning = false;
  try {
    const first = await startLsvd();
    await run('mkdir', ['-p', dataDirectory, pgSocketDirectory]);
    await run('chown', ['-R', 'postgres:postgres', mountPoint, pgSocketDirectory]);
    await asPostgres('initdb', ['-D', dataDirectory, '--auth=trust', '-U', 'postgres']);
    await pgCtl('start');
    postgresRunning = true;
    await asPostgres('pgbench', ['-h', pgSocketDirectory, '-U', 'postgres', '-i', '-s', String(PGBENCH_SCALE), 'postgres']);
    const report = await asPostgres('pgbench', ['-h', pgSocketDirectory, '-U', 'postgres', '-c', '4', '-T', String(PGBENCH_SECONDS), 'postgres'], 120_000);
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(report)?.[1]);
    t.true(processed > 0, report);
    const before = await psql('select count(*), sum(delta) from pgbench_history');
    const balances = await psql('select sum(abalance) from pgbench_accounts');
    t.is(before.split('|')[0], String(processed), 'every committed pgbench transaction left one history row');
    await pgCtl('stop');
    postgresRunning = false;
    t.is(await first.stop('SIGTERM'), 0, first.log());

    const second = await startLsvd();
    await pgCtl('start');
    postgresRunning = true;
    t.is(await psql('select count(*), sum(delta) from pgbench_history'), before);
    t.is(await psql('select sum(abalance) from pgbench_accounts'), balances);
    t.is(await psql('select count(*) from pgbench_accounts'), String(PGBENCH_SCALE * 100_000));
    await pgCtl('stop');
    postgresRunning = false;
    t.is(await second.stop('SIGTERM'), 0, second.log());
  } finally {
    if (postgresRunning) await pgCtl('stop').catch(() => undefined);
    for (const daemon of daemons) await daemon.stop('SIGTERM');
    await run('umount', [mountPoint]).catch(() => undefined);
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
});
