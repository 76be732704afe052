/**
 * The image's entrypoint script, run on the host: it becomes `lsvd run` (exec, so SIGTERM
 * reaches the daemon and not a shell), takes its configuration from the environment, and
 * exits 0 after a clean shutdown.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const ENTRYPOINT = fileURLToPath(new URL('../../scripts/docker-entrypoint.sh', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

test('the entrypoint execs lsvd run with the environment, and SIGTERM shuts it down with exit 0', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-entrypoint-'));
  try {
    const runDirectory = join(directory, 'run');
    const child = spawn(ENTRYPOINT, ['--attach', 'none'], {
      env: { ...process.env, LSVD_HOME: REPOSITORY, LSVD_RUN_DIR: runDirectory, LSVD_STORE: join(directory, 'volume'), LSVD_SIZE: '64MiB', LSVD_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!log.includes('lsvd is ready') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.regex(log, /lsvd is ready/);
    t.true((await readdir(runDirectory)).includes('nbd.sock'), 'the socket is in the runtime directory the entrypoint prepared');
    child.kill('SIGTERM'); // sent to the entrypoint's pid: only an exec'd daemon receives it
    t.is(await exited, 0, log);
    t.regex(log, /Device has shut down\./);
    t.true((await readdir(join(directory, 'volume'))).includes('volume.json'));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
