import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { createInterface } from 'node:readline';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import anyTest from 'ava';
import type { TestFn } from 'ava';
import type { FaultKind, ProxyFaults } from '../../scripts/s3-proxy/faults.js';
import { chooseFault } from '../../scripts/s3-proxy/faults.js';
import { createSeededRandom } from '../../scripts/s3-proxy/seeded-random.js';
import type { S3Proxy, S3ProxyOptions } from '../../scripts/s3-proxy.js';
import { startS3Proxy } from '../../scripts/s3-proxy.js';
import type { RunningS3rver } from '../../scripts/bench/s3rver.js';
import { S3RVER_CREDENTIALS, S3RVER_REGION, startS3rver } from '../../scripts/bench/s3rver.js';

const test = anyTest as TestFn<{ s3rver: RunningS3rver; directory: string }>;

test.before(async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-s3-proxy-test-'));
  t.context.directory = directory;
  t.context.s3rver = await startS3rver({ directory, bucket: 'proxy-test' });
});

test.after.always(async (t) => {
  await t.context.s3rver?.close();
  await rm(t.context.directory, { recursive: true, force: true });
});

function clientFor(endpoint: string): S3Client {
  // One attempt: the tests count the faults the client sees, so the SDK must not retry them away.
  return new S3Client({ endpoint, region: S3RVER_REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 });
}

async function withProxy(
  t: { context: { s3rver: RunningS3rver }; teardown(fn: () => Promise<void> | void): void },
  options: Omit<S3ProxyOptions, 'upstream'>,
): Promise<{ proxy: S3Proxy; client: S3Client; bucket: string }> {
  const proxy = await startS3Proxy({ upstream: t.context.s3rver.endpoint, ...options });
  const client = clientFor(proxy.endpoint);
  t.teardown(async () => {
    client.destroy();
    await proxy.close();
  });
  return { proxy, client, bucket: t.context.s3rver.bucket };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}

test('a request through the proxy takes at least latencyMs and its bodies arrive intact both ways', async (t) => {
  const latencyMs = 60;
  const { client, bucket } = await withProxy(t, { latencyMs, jitterMs: 0, seed: 1 });
  const body = new Uint8Array(3 * 1024 * 1024).map((_, index) => (index * 31) & 0xff);
  let startedMs = performance.now();
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'intact', Body: body }));
  t.true(performance.now() - startedMs >= latencyMs);
  startedMs = performance.now();
  const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'intact' }));
  const received = await answer.Body?.transformToByteArray();
  t.true(performance.now() - startedMs >= latencyMs);
  t.deepEqual(received, body);
});

test('jitter adds the seeded delay, anywhere in latencyMs ± jitterMs, to each request', async (t) => {
  const seed = 7;
  t.log(`seed ${seed}`);
  const latencyMs = 100;
  const jitterMs = 100;
  const { client, bucket } = await withProxy(t, { latencyMs, jitterMs, seed });
  // The delays the proxy must add, request by request: the first of each request's two draws.
  const random = createSeededRandom(seed);
  const plannedDelaysMs = Array.from({ length: 12 }, () => {
    const delayDraw = random();
    random();
    return latencyMs + (2 * delayDraw - 1) * jitterMs;
  });
  t.true(Math.min(...plannedDelaysMs) < 60 && Math.max(...plannedDelaysMs) > 140, `the seed spreads the delays: ${plannedDelaysMs}`);
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'jitter', Body: 'x' }));
  // Requests one at a time, so that request i takes draw i. Only lower bounds: the machine may be busy.
  for (const [index, plannedDelayMs] of plannedDelaysMs.slice(1).entries()) {
    const startedMs = performance.now();
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'jitter' }));
    const durationMs = performance.now() - startedMs;
    t.true(durationMs >= plannedDelayMs, `request ${index + 1} took ${durationMs} ms, planned delay ${plannedDelayMs} ms`);
  }
});

test('stats count every request by method', async (t) => {
  const { proxy, client, bucket } = await withProxy(t, { latencyMs: 0, jitterMs: 0, seed: 1 });
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'counted', Body: 'abc' }));
  await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'counted' }));
  await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'counted' }));
  await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'counted' }));
  t.deepEqual(proxy.stats(), { requests: 5, byMethod: { PUT: 1, GET: 2, HEAD: 1, DELETE: 1 }, faultsInjected: 0, byFault: {} });
});

/** What the proxy must inject for `requestCount` requests: it draws two numbers per request. */
function expectedFaultCounts(options: { seed: number; faults: ProxyFaults; requestCount: number }): Partial<Record<FaultKind, number>> {
  const random = createSeededRandom(options.seed);
  const counts: Partial<Record<FaultKind, number>> = {};
  for (let index = 0; index < options.requestCount; index += 1) {
    random();
    const fault = chooseFault(options.faults, random());
    if (fault !== undefined) {
      counts[fault] = (counts[fault] ?? 0) + 1;
    }
  }
  return counts;
}

test('errors, throttles and resets occur at the configured rates, in counts fixed by the seed', async (t) => {
  const seed = 20240611;
  t.log(`seed ${seed}`);
  const faults: ProxyFaults = { errorRate: 0.2, throttleRate: 0.1, resetRate: 0.05 };
  const requestCount = 300;
  const { proxy, client, bucket } = await withProxy(t, { latencyMs: 0, jitterMs: 0, seed });
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'rates', Body: 'abc' }));
  proxy.setFaults(faults);
  const seen: Record<string, number> = {};
  const concurrency = 10;
  for (let batchStart = 1; batchStart <= requestCount; batchStart += concurrency) {
    const batch = Array.from({ length: concurrency }, () =>
      client.send(new GetObjectCommand({ Bucket: bucket, Key: 'rates' })).then(
        async (answer) => ((await answer.Body?.transformToString()) === 'abc' ? 'ok' : 'wrong body'),
        (error: unknown) => errorName(error),
      ),
    );
    for (const outcome of await Promise.all(batch)) {
      seen[outcome] = (seen[outcome] ?? 0) + 1;
    }
  }
  // The first request (the PUT) drew its numbers before the faults were set.
  const expected = expectedFaultCounts({ seed, faults, requestCount: requestCount + 1 });
  const firstRequest = expectedFaultCounts({ seed, faults, requestCount: 1 });
  for (const [kind, count] of Object.entries(firstRequest)) {
    expected[kind as FaultKind] = (expected[kind as FaultKind] ?? 0) - (count ?? 0);
  }
  t.deepEqual(proxy.stats().byFault, Object.fromEntries(Object.entries(expected).filter(([, count]) => count !== 0)));
  t.is(seen['InternalError'], expected.error);
  t.is(seen['SlowDown'], expected.throttle);
  const resets = requestCount - (seen['ok'] ?? 0) - (seen['InternalError'] ?? 0) - (seen['SlowDown'] ?? 0);
  t.is(resets, expected.reset ?? 0);
  t.true(Math.abs((expected.error ?? 0) - 60) <= 25 && Math.abs((expected.throttle ?? 0) - 30) <= 18);
  t.true((expected.reset ?? 0) >= 3 && (expected.reset ?? 0) <= 30);
});

test('an outage fails every request, and requests succeed again once it ends', async (t) => {
  const { proxy, client, bucket } = await withProxy(t, { latencyMs: 0, jitterMs: 0, seed: 3 });
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'outage', Body: 'abc' }));
  proxy.setFaults({ outage: true });
  const outcomes = await Promise.all(
    Array.from({ length: 20 }, () =>
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'outage' })).then(
        () => 'ok',
        (error: unknown) => errorName(error),
      ),
    ),
  );
  t.false(outcomes.includes('ok'), outcomes.join(','));
  t.is(proxy.stats().faultsInjected, 20);
  proxy.setFaults({});
  const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'outage' }));
  t.is(await answer.Body?.transformToString(), 'abc');
});

test('an outage answers with a well-formed 503 S3 error or a reset connection', async (t) => {
  const { proxy, client, bucket } = await withProxy(t, { latencyMs: 0, jitterMs: 0, seed: 5, faults: { outage: true } });
  const names = new Set<string>();
  for (let index = 0; index < 16; index += 1) {
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' })).catch((error: unknown) => names.add(errorName(error)));
  }
  t.true(names.has('ServiceUnavailable'), [...names].join(','));
  t.true(proxy.stats().byFault['outage-reset'] !== undefined);
});

test('a slow request waits a further slowMs before it is forwarded', async (t) => {
  const { proxy, client, bucket } = await withProxy(t, { latencyMs: 5, jitterMs: 0, seed: 1, faults: { slowRate: 1, slowMs: 150 } });
  const startedMs = performance.now();
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'slow', Body: 'abc' }));
  t.true(performance.now() - startedMs >= 155);
  t.deepEqual(proxy.stats().byFault, { slow: 1 });
});

test('an unreachable upstream is answered with a 502 S3 error', async (t) => {
  const proxy = await startS3Proxy({ upstream: 'http://127.0.0.1:1', latencyMs: 0, jitterMs: 0, seed: 1 });
  const client = clientFor(proxy.endpoint);
  t.teardown(async () => {
    client.destroy();
    await proxy.close();
  });
  const error = await t.throwsAsync(client.send(new GetObjectCommand({ Bucket: 'any', Key: 'thing' })));
  t.is(error?.name, 'InternalError');
  t.is((error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode, 502);
});

/** An upstream that drops each connection when a second request arrives on it: the keep-alive race, every time. */
async function startDroppingUpstream(t: { teardown(fn: () => Promise<void> | void): void }): Promise<{ endpoint: string; connections: () => number }> {
  let connections = 0;
  const server = createNetServer((socket) => {
    connections += 1;
    let requestsSeen = 0;
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        requestsSeen += 1;
        if (requestsSeen === 1) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        } else {
          socket.resetAndDestroy();
          return;
        }
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

test('a bodiless request whose kept-alive upstream socket was just closed is sent again on a new one', async (t) => {
  const upstream = await startDroppingUpstream(t);
  const proxy = await startS3Proxy({ upstream: upstream.endpoint, latencyMs: 0, jitterMs: 0, seed: 1 });
  t.teardown(() => proxy.close());
  for (let index = 0; index < 3; index += 1) {
    const answer = await fetch(`${proxy.endpoint}/bucket/key`);
    t.is(answer.status, 200);
    t.is(await answer.text(), 'ok');
  }
  t.is(upstream.connections(), 3);
  // A body has been streamed away and cannot be sent again: that request fails as a 502, the next succeeds.
  const statuses: number[] = [];
  for (let index = 0; index < 2; index += 1) {
    const answer = await fetch(`${proxy.endpoint}/bucket/key`, { method: 'PUT', body: 'abc' });
    await answer.text();
    statuses.push(answer.status);
  }
  t.deepEqual(statuses, [502, 200]);
});

test('close abandons requests still waiting out their latency', async (t) => {
  const { proxy, client, bucket } = await withProxy(t, { latencyMs: 10_000, jitterMs: 0, seed: 1 });
  const pending = client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'never' }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const startedMs = performance.now();
  await proxy.close();
  await t.throwsAsync(pending);
  t.true(performance.now() - startedMs < 2000);
});

test('the CLI prints its endpoint, forwards requests and stops on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/s3-proxy.ts', '--upstream', t.context.s3rver.endpoint, '--latency-ms', '20'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const [endpoint] = (await once(lines, 'line')) as [string];
  t.regex(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  const client = clientFor(endpoint);
  await client.send(new PutObjectCommand({ Bucket: t.context.s3rver.bucket, Key: 'cli', Body: 'abc' }));
  client.destroy();
  child.kill('SIGTERM');
  const [exitCode] = (await exited) as [number | null];
  t.is(exitCode, 0);
});
