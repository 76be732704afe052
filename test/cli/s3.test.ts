import test from 'ava';
import { createServer } from 'node:net';
import { openStore } from '../../store/open-store.js';
import { startS3rver } from '../helpers/s3rver.js';
import { errorLines, fixtureBytes, runLsvd } from './harness.js';
import { spawnLsvd } from './spawn.js';

const SECRET = 'wrong-secret-7f3a9c1e5b2d4f60';
const SESSION_TOKEN = 'session-token-secret-0a1b2c3d4e5f';

/** A 127.0.0.1 port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

test('ls and inspect read a volume under a prefix of a real S3 API (s3rver)', async (t) => {
  const server = await startS3rver();
  t.teardown(() => server.close());
  const store = await openStore(server.storeConfig('vol1/'));
  await store.put('volume.json', fixtureBytes('volume.json'));
  await store.put('0000000000000001', fixtureBytes('single-entry.bin'));
  await store.put('0000000000000003', fixtureBytes('out-of-order.bin'));
  await store.put('zeros/0000000000000003', fixtureBytes('zeros-0000000000000002.bin'));
  await store.close();
  const env = { BUCKET_NAME: server.bucket, AWS_ENDPOINT_URL_S3: server.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

  const ls = await runLsvd(['ls', '--prefix', 'vol1'], { env });
  t.is(ls.exitCode, 0, ls.stderr);
  t.regex(ls.stdout, new RegExp(`store: s3://${server.bucket}/vol1/ \\(${server.endpoint}, region us-east-1\\)`));
  t.true(ls.stdout.includes('-- gap: 0000000000000002 missing --'));
  t.regex(ls.stdout, /3\s+0000000000000003\s+28672\s+3\s+16384\s+2/);

  const inspect = await runLsvd(['inspect', '--store', `s3://${server.bucket}/vol1/`, '3'], { env });
  t.is(inspect.exitCode, 0, inspect.stderr);
  t.regex(inspect.stdout, /zero ranges zeros\/0000000000000003: 2/);
});

test('secrets never appear in any output, listing or failing, even at trace log level', async (t) => {
  const server = await startS3rver();
  t.teardown(() => server.close());
  // s3rver does not check signatures, so any secret is accepted and the requests really run.
  const env = {
    LSVD_STORE: `s3://${server.bucket}/vol1/`,
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: SESSION_TOKEN,
    LSVD_LOG_LEVEL: 'trace',
  };
  const listing = await spawnLsvd(['ls', '--json'], env);
  t.is(listing.exitCode, 0, listing.stderr);
  t.like(JSON.parse(listing.stdout), { logObjects: [] });
  const missing = await spawnLsvd(['inspect', '9'], env);
  t.is(missing.exitCode, 1, missing.stderr);
  t.deepEqual(errorLines(missing.stderr), [`error: log object 0000000000000009 (sequence 9) does not exist in s3://${server.bucket}/vol1/ [ERR_CLI_OBJECT_MISSING]`]);
  for (const run of [listing, missing]) {
    for (const secret of [SECRET, SESSION_TOKEN]) t.false(run.stdout.includes(secret) || run.stderr.includes(secret), `${secret} leaked`);
  }
});

test('an unreachable S3 endpoint exits 1 with one line and no secret', async (t) => {
  const port = await closedPort();
  const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET, LSVD_LOG_LEVEL: 'trace' };
  const run = await spawnLsvd(['inspect', '--store', 's3://bucket/', '--endpoint', `http://127.0.0.1:${port}`, '1'], env);
  t.is(run.exitCode, 1, run.stderr);
  const lines = errorLines(run.stderr);
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0] ?? '', /\[ERR_STORE_/);
  t.false(run.stdout.includes(SECRET) || run.stderr.includes(SECRET));
});

test('usage errors about credentials do not echo them', async (t) => {
  const run = await runLsvd(['ls', '--store', `s3://AKIA:${SECRET}@bucket/`]);
  t.is(run.exitCode, 2);
  t.false(run.stderr.includes(SECRET));
  const endpoint = await runLsvd(['ls', '--store', 's3://bucket/', '--endpoint', `http://user:${SECRET}@127.0.0.1:1`]);
  t.is(endpoint.exitCode, 2);
  t.false(endpoint.stderr.includes(SECRET));
});
