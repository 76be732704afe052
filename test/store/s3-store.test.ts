/**
 * What only the S3 backend has: the key prefix, the bucket, the network, and the mapping of
 * S3's answers to stable error codes. s3rver where it suffices, a scripted fake otherwise.
 */
import net from 'node:net';
import { inspect } from 'node:util';
import test from 'ava';
import type { StoreError } from '../../store/errors.js';
import { S3Store } from '../../store/s3-store.js';
import { startS3rver } from '../helpers/s3rver.js';
import { listKeys, patternBytes } from './backends.js';
import { type FakeReply, s3ErrorReply, startFakeS3 } from './fake-s3.js';

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY';
const ACCESS_KEY_ID = 'AKIALSVDTESTACCESSID';
const SESSION_TOKEN = 'FwoGZXIvYXdzSESSIONTOKEN';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('two stores with different prefixes on one bucket do not see each other', async (t) => {
  const s3rver = await startS3rver();
  const volume1 = new S3Store(s3rver.storeConfig('vol1/'));
  const volume2 = new S3Store(s3rver.storeConfig('vol2/'));
  const whole = new S3Store(s3rver.storeConfig(''));
  try {
    await volume1.put('0000000000000001', patternBytes(10, 1));
    await volume2.put('0000000000000001', patternBytes(20, 2));
    t.deepEqual(await volume1.get('0000000000000001'), patternBytes(10, 1));
    t.deepEqual(await volume2.head('0000000000000001'), { key: '0000000000000001', sizeBytes: 20 });
    t.deepEqual(await listKeys(volume1), ['0000000000000001']);
    t.deepEqual(await listKeys(whole), ['vol1/0000000000000001', 'vol2/0000000000000001']);
    await volume1.delete('0000000000000001');
    t.deepEqual(await listKeys(whole), ['vol2/0000000000000001']);
    t.is(volume1.description, `s3://${s3rver.bucket}/vol1/`);
    t.is(whole.description, `s3://${s3rver.bucket}/`);
  } finally {
    await Promise.all([volume1.close(), volume2.close(), whole.close()]);
    await s3rver.close();
  }
});

test('a missing bucket is ERR_STORE_BUCKET_NOT_FOUND for put, get and list', async (t) => {
  const s3rver = await startS3rver();
  const store = new S3Store({ ...s3rver.storeConfig('vol/'), bucket: 'no-such-bucket' }, { maxAttempts: 1 });
  try {
    await t.throwsAsync(store.put('key', patternBytes(1)), { code: 'ERR_STORE_BUCKET_NOT_FOUND' });
    await t.throwsAsync(store.get('key'), { code: 'ERR_STORE_BUCKET_NOT_FOUND' });
    await t.throwsAsync(listKeys(store), { code: 'ERR_STORE_BUCKET_NOT_FOUND' });
    const error = await t.throwsAsync(store.get('key'));
    t.regex(error?.message ?? '', /no-such-bucket\/vol\/key/, 'the message names the bucket and key');
  } finally {
    await store.close();
    await s3rver.close();
  }
});

test('a refused connection is ERR_STORE_UNAVAILABLE, retryable, within seconds', async (t) => {
  const port = await closedPort();
  const store = new S3Store(
    {
      kind: 's3',
      bucket: 'b',
      prefix: '',
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
    },
    { maxAttempts: 2 },
  );
  const startedMs = performance.now();
  try {
    const error = await t.throwsAsync<StoreError>(store.get('key'), { code: 'ERR_STORE_UNAVAILABLE' });
    t.true(error?.retryable === true);
    t.false(error?.message.includes(SECRET));
    await t.throwsAsync(store.put('key', patternBytes(1)), { code: 'ERR_STORE_UNAVAILABLE' });
    await t.throwsAsync(listKeys(store), { code: 'ERR_STORE_UNAVAILABLE' });
  } finally {
    await store.close();
  }
  t.true(performance.now() - startedMs < 10_000, 'does not hang');
});

test('a server that never answers times out as ERR_STORE_UNAVAILABLE', async (t) => {
  const fake = await startFakeS3(() => undefined);
  const store = new S3Store(fake.storeConfig(), { maxAttempts: 1, requestTimeoutMs: 300 });
  try {
    await t.throwsAsync(store.get('key'), { code: 'ERR_STORE_UNAVAILABLE' });
  } finally {
    await store.close();
    await fake.close();
  }
});

const STATUS_CASES: Array<{ reply: FakeReply; code: string; retryable: boolean }> = [
  { reply: s3ErrorReply(412, 'PreconditionFailed', 'At least one of the preconditions you specified did not hold'), code: 'ERR_STORE_PRECONDITION_FAILED', retryable: false },
  { reply: s3ErrorReply(409, 'ConditionalRequestConflict', 'A conflicting conditional operation is in progress'), code: 'ERR_STORE_PRECONDITION_FAILED', retryable: false },
  { reply: s3ErrorReply(503, 'SlowDown', 'Please reduce your request rate.'), code: 'ERR_STORE_THROTTLED', retryable: true },
  { reply: s3ErrorReply(429, 'TooManyRequests', 'Too many requests'), code: 'ERR_STORE_THROTTLED', retryable: true },
  { reply: s3ErrorReply(500, 'InternalError', 'We encountered an internal error.'), code: 'ERR_STORE_UNAVAILABLE', retryable: true },
  { reply: s3ErrorReply(503, 'ServiceUnavailable', 'Service unavailable'), code: 'ERR_STORE_UNAVAILABLE', retryable: true },
  { reply: s3ErrorReply(403, 'AccessDenied', 'Access Denied'), code: 'ERR_STORE_ACCESS_DENIED', retryable: false },
  { reply: s3ErrorReply(404, 'NoSuchKey', 'The specified key does not exist.'), code: 'ERR_STORE_NOT_FOUND', retryable: false },
  { reply: s3ErrorReply(404, 'NoSuchBucket', 'The specified bucket does not exist'), code: 'ERR_STORE_BUCKET_NOT_FOUND', retryable: false },
  { reply: s3ErrorReply(400, 'InvalidArgument', 'Invalid argument'), code: 'ERR_STORE_FAILED', retryable: false },
];

test('S3 error answers map to stable codes with the right retryable flag', async (t) => {
  let reply: FakeReply = { status: 200 };
  const fake = await startFakeS3(() => reply);
  const store = new S3Store(fake.storeConfig(), { maxAttempts: 1 });
  try {
    for (const statusCase of STATUS_CASES) {
      reply = statusCase.reply;
      const error = await t.throwsAsync<StoreError>(store.put('key', patternBytes(1), { createOnly: true }), { code: statusCase.code }, statusCase.reply.body?.toString());
      t.is(error?.retryable, statusCase.retryable);
      t.is(error?.key, 'key');
    }
  } finally {
    await store.close();
    await fake.close();
  }
});

test('error messages never hold the credentials, even when the server echoes them', async (t) => {
  const fake = await startFakeS3((request) =>
    s3ErrorReply(403, 'SignatureDoesNotMatch', `Bad signature for ${ACCESS_KEY_ID} secret ${SECRET} token ${SESSION_TOKEN} auth ${request.headers.authorization ?? ''}`),
  );
  const store = new S3Store(fake.storeConfig({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, sessionToken: SESSION_TOKEN }), { maxAttempts: 1 });
  try {
    for (const operation of [() => store.get('key'), () => store.put('key', patternBytes(1)), () => listKeys(store), () => store.delete('key')]) {
      const error = await t.throwsAsync(operation(), { code: 'ERR_STORE_ACCESS_DENIED' });
      const rendered = `${error?.message} ${error?.stack} ${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;
      t.true(rendered.includes('SignatureDoesNotMatch'), 'the S3 error name is kept');
      for (const secret of [SECRET, ACCESS_KEY_ID, SESSION_TOKEN]) t.false(rendered.includes(secret), `${secret.slice(0, 6)}... leaked`);
    }
    t.false(inspect(store, { depth: 10 }).includes(SECRET), 'the store object does not show the secret');
  } finally {
    await store.close();
    await fake.close();
  }
});

test('a ranged get is exact even when the server ignores Range or answers a wider span', async (t) => {
  const body = patternBytes(1_000, 5);
  let mode: 'ignore' | 'wider' = 'ignore';
  const fake = await startFakeS3(() =>
    mode === 'ignore'
      ? { status: 200, headers: { 'content-length': '1000' }, body }
      : { status: 206, headers: { 'content-range': 'bytes 100-999/1000', 'content-length': '900' }, body: body.subarray(100) },
  );
  const store = new S3Store(fake.storeConfig(), { maxAttempts: 1 });
  try {
    t.deepEqual(await store.get('key', { range: { offsetBytes: 200, lengthBytes: 50 } }), body.subarray(200, 250));
    t.deepEqual(await store.get('key', { range: { offsetBytes: 990, lengthBytes: 50 } }), body.subarray(990));
    mode = 'wider';
    t.deepEqual(await store.get('key', { range: { offsetBytes: 200, lengthBytes: 50 } }), body.subarray(200, 250));
    t.is(fake.requests.at(-1)?.headers.range, 'bytes=200-249');
  } finally {
    await store.close();
    await fake.close();
  }
});

test('puts send plain bodies without checksum trailers, and If-None-Match only for createOnly', async (t) => {
  const fake = await startFakeS3(() => ({ status: 200, headers: { etag: '"x"' } }));
  const store = new S3Store(fake.storeConfig({ prefix: 'vol/' }), { maxAttempts: 1 });
  try {
    await store.put('plain', patternBytes(5_000));
    await store.put('guarded', patternBytes(5_000), { createOnly: true });
    const [plain, guarded] = fake.requests;
    t.is(plain?.url.pathname, '/fake-bucket/vol/plain');
    t.is(plain?.headers['if-none-match'], undefined);
    t.is(guarded?.headers['if-none-match'], '*');
    for (const request of [plain, guarded]) {
      t.deepEqual(request?.body, Buffer.from(patternBytes(5_000)), 'the body arrives as sent, not aws-chunked');
      t.is(request?.headers['x-amz-trailer'], undefined);
      t.false(String(request?.headers['content-encoding'] ?? '').includes('aws-chunked'));
    }
  } finally {
    await store.close();
    await fake.close();
  }
});

function listPage(keys: string[], next: { truncated: boolean; token?: string }): FakeReply {
  const contents = keys.map((key) => `<Contents><Key>${key}</Key><Size>${key.length}</Size></Contents>`).join('');
  const token = next.token === undefined ? '' : `<NextContinuationToken>${next.token}</NextContinuationToken>`;
  const body = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>fake-bucket</Name>',
    `<IsTruncated>${next.truncated}</IsTruncated>${token}${contents}</ListBucketResult>`,
  ].join('\n');
  return { status: 200, headers: { 'content-type': 'application/xml' }, body };
}

test('list follows continuation tokens, and resumes after the last key when a page has none', async (t) => {
  const fake = await startFakeS3((request) => {
    if (request.url.searchParams.get('continuation-token') === 'page-2') return listPage(['v/c'], { truncated: true });
    if (request.url.searchParams.get('start-after') === 'v/c') return listPage(['v/d'], { truncated: false });
    return listPage(['v/a', 'v/b'], { truncated: true, token: 'page-2' });
  });
  const store = new S3Store(fake.storeConfig({ prefix: 'v/' }), { maxAttempts: 1 });
  try {
    t.deepEqual(await listKeys(store), ['a', 'b', 'c', 'd']);
    const queries = fake.requests.map((request) => request.url.searchParams);
    t.is(queries.length, 3);
    t.is(queries[0]?.get('prefix'), 'v/');
    t.is(queries[0]?.get('max-keys'), '1000');
    t.is(queries[1]?.get('start-after'), null, 'StartAfter is not repeated beside a token');
  } finally {
    await store.close();
    await fake.close();
  }
});

test('close releases the keep-alive sockets', async (t) => {
  const fake = await startFakeS3(() => ({ status: 200, headers: { 'content-length': '3' }, body: new Uint8Array([1, 2, 3]) }));
  const store = new S3Store(fake.storeConfig(), { maxAttempts: 1 });
  try {
    await store.get('key');
    const connectionCount = () => new Promise<number>((resolve, reject) => fake.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    t.is(await connectionCount(), 1, 'the socket stays open between requests');
    await store.close();
    for (let waitedMs = 0; waitedMs < 5_000 && (await connectionCount()) > 0; waitedMs += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    t.is(await connectionCount(), 0);
  } finally {
    await fake.close();
  }
});
