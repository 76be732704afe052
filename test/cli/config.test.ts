import test from 'ava';
import { buildStoreConfig, describeStoreConfig } from '../../cli/config.js';
import type { Environment, StoreFlags } from '../../cli/config.js';
import type { StoreConfig } from '../../store/store-config.js';

const CWD = '/srv/lsvd';

function build(flags: StoreFlags, env: Environment = {}, defaultStore?: StoreConfig): Readonly<StoreConfig> {
  return buildStoreConfig({ flags, env, cwd: CWD, ...(defaultStore === undefined ? {} : { defaultStore }) });
}

test('an s3:// URL names the bucket and a prefix normalised to end in a slash', (t) => {
  t.like(build({ store: 's3://bucket/vol1' }), { kind: 's3', bucket: 'bucket', prefix: 'vol1/' });
  t.like(build({ store: 's3://bucket/a/b/' }), { kind: 's3', bucket: 'bucket', prefix: 'a/b/' });
  t.like(build({ store: 's3://bucket' }), { kind: 's3', bucket: 'bucket', prefix: '' });
  t.like(build({ store: 's3://bucket/' }), { kind: 's3', bucket: 'bucket', prefix: '' });
});

test('file:// URLs, absolute and relative directory paths all become an absolute directory', (t) => {
  t.deepEqual(build({ store: 'file:///var/lib/lsvd' }), { kind: 'file', directory: '/var/lib/lsvd' });
  t.deepEqual(build({ store: '/var/lib/lsvd/' }), { kind: 'file', directory: '/var/lib/lsvd' });
  t.deepEqual(build({ store: 'volumes/db' }), { kind: 'file', directory: '/srv/lsvd/volumes/db' });
  t.deepEqual(build({ store: './db' }), { kind: 'file', directory: '/srv/lsvd/db' });
});

test('memory: opens the in-process store', (t) => {
  t.deepEqual(build({ store: 'memory:' }), { kind: 'memory' });
});

test('an unknown scheme, a missing bucket and a bad prefix are usage errors', (t) => {
  for (const store of ['gs://bucket/', 'http://example.com/', 's3://', 's3:///vol1/', 's3:bucket', 's3://bucket/a//b/', 's3://bucket/../x', 'memory:x', 'file://host/x', ' ']) {
    t.throws(() => build({ store }), { code: 'ERR_CLI_USAGE' }, `--store ${store}`);
  }
});

test('with no store and no bucket variable it is a usage error, unless the command has a default', (t) => {
  t.throws(() => build({}), { code: 'ERR_CLI_USAGE' });
  t.deepEqual(build({}, {}, { kind: 'file', directory: '/var/lib/lsvd' }), { kind: 'file', directory: '/var/lib/lsvd' });
});

test('LSVD_STORE stands in for --store, and the flag wins over it', (t) => {
  t.like(build({}, { LSVD_STORE: 's3://from-env/' }), { kind: 's3', bucket: 'from-env' });
  t.like(build({ store: 's3://from-flag/' }, { LSVD_STORE: 's3://from-env/' }), { kind: 's3', bucket: 'from-flag' });
});

test('BUCKET_NAME or FLY_LSVD_S3_BUCKET name the bucket when no store URL is given, with LSVD_PREFIX or --prefix', (t) => {
  t.like(build({}, { BUCKET_NAME: 'tigris-bucket' }), { kind: 's3', bucket: 'tigris-bucket', prefix: '' });
  t.like(build({}, { FLY_LSVD_S3_BUCKET: 'fly-bucket', LSVD_PREFIX: 'vol2' }), { kind: 's3', bucket: 'fly-bucket', prefix: 'vol2/' });
  t.like(build({ prefix: '/vol3/' }, { BUCKET_NAME: 'b', LSVD_PREFIX: 'vol2' }), { prefix: 'vol3/' });
  t.like(build({}, { BUCKET_NAME: 'same', FLY_LSVD_S3_BUCKET: 'same' }), { bucket: 'same' });
});

test('BUCKET_NAME and FLY_LSVD_S3_BUCKET naming different buckets is refused rather than guessed', (t) => {
  t.throws(() => build({}, { BUCKET_NAME: 'one', FLY_LSVD_S3_BUCKET: 'two' }), { code: 'ERR_CLI_USAGE' });
  t.notThrows(() => build({ store: 's3://one/' }, { BUCKET_NAME: 'one', FLY_LSVD_S3_BUCKET: 'two' }));
});

test('a prefix given both in the URL and by --prefix is refused', (t) => {
  t.throws(() => build({ store: 's3://b/vol1/', prefix: 'vol2' }), { code: 'ERR_CLI_USAGE' });
});

test('the endpoint comes from --endpoint, then AWS_ENDPOINT_URL_S3, then FLY_LSVD_S3_ENDPOINT, and turns on path style', (t) => {
  const env = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', FLY_LSVD_S3_ENDPOINT: 'https://fly.storage.tigris.dev' };
  t.like(build({ store: 's3://b/' }, env), { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
  t.like(build({ store: 's3://b/' }, { FLY_LSVD_S3_ENDPOINT: env.FLY_LSVD_S3_ENDPOINT }), { endpoint: 'https://fly.storage.tigris.dev', forcePathStyle: true });
  t.like(build({ store: 's3://b/', endpoint: 'http://localhost:1234/' }, env), { endpoint: 'http://localhost:1234' });
  const aws = build({ store: 's3://b/' });
  t.is(aws.kind === 's3' ? aws.endpoint : 'not s3', undefined);
  t.like(aws, { forcePathStyle: false, region: 'us-east-1' });
});

test('--no-path-style and LSVD_PATH_STYLE override the path-style default, the flag first', (t) => {
  const env = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' };
  t.like(build({ store: 's3://b/', pathStyle: false }, env), { forcePathStyle: false });
  t.like(build({ store: 's3://b/' }, { ...env, LSVD_PATH_STYLE: 'false' }), { forcePathStyle: false });
  t.like(build({ store: 's3://b/', pathStyle: true }, { ...env, LSVD_PATH_STYLE: 'false' }), { forcePathStyle: true });
  t.throws(() => build({ store: 's3://b/' }, { LSVD_PATH_STYLE: 'maybe' }), { code: 'ERR_CLI_USAGE' });
});

test('the region comes from --region, then AWS_REGION, then us-east-1', (t) => {
  t.like(build({ store: 's3://b/', region: 'eu-west-3' }, { AWS_REGION: 'auto' }), { region: 'eu-west-3' });
  t.like(build({ store: 's3://b/' }, { AWS_REGION: 'auto' }), { region: 'auto' });
});

test('credentials come from the AWS variables together, or not at all (the SDK default chain)', (t) => {
  const config = build({ store: 's3://b/' }, { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 'shh-secret', AWS_SESSION_TOKEN: 'tok-secret' });
  t.deepEqual(config.kind === 's3' ? config.credentials : undefined, { accessKeyId: 'AKIA1', secretAccessKey: 'shh-secret', sessionToken: 'tok-secret' });
  const chain = build({ store: 's3://b/' });
  t.false(chain.kind === 's3' && 'credentials' in chain);
  t.throws(() => build({ store: 's3://b/' }, { AWS_ACCESS_KEY_ID: 'AKIA1' }), { code: 'ERR_CLI_USAGE' });
  t.throws(() => build({ store: 's3://b/' }, { AWS_SECRET_ACCESS_KEY: 'shh-secret' }), { code: 'ERR_CLI_USAGE' });
});

test('credentials embedded in a store URL or an endpoint are refused without echoing them', (t) => {
  const cases: [StoreFlags, Environment][] = [
    [{ store: 's3://AKIA1:hunter2-secret@bucket/' }, {}],
    [{ store: 's3://b/', endpoint: 'http://user:hunter2-secret@127.0.0.1:9000' }, {}],
    [{ store: 's3://b/' }, { AWS_ENDPOINT_URL_S3: 'http://user:hunter2-secret@127.0.0.1:9000' }],
  ];
  for (const [flags, env] of cases) {
    const error = t.throws(() => build(flags, env), { code: 'ERR_CLI_USAGE' });
    t.false(error?.message.includes('hunter2-secret'), error?.message);
  }
});

test('S3-only flags with a directory or memory store are refused; S3 variables in the environment are ignored', (t) => {
  t.throws(() => build({ store: '/var/lib/lsvd', endpoint: 'http://127.0.0.1:9000' }), { code: 'ERR_CLI_USAGE' });
  t.throws(() => build({ store: 'memory:', region: 'auto' }), { code: 'ERR_CLI_USAGE' });
  t.throws(() => build({ store: '/var/lib/lsvd', prefix: 'vol1' }), { code: 'ERR_CLI_USAGE' });
  t.deepEqual(build({ store: '/var/lib/lsvd' }, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', AWS_SECRET_ACCESS_KEY: 'x' }), { kind: 'file', directory: '/var/lib/lsvd' });
});

test('the config is frozen', (t) => {
  for (const config of [build({ store: 's3://b/' }, { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 'shh-secret' }), build({ store: '/x' }), build({ store: 'memory:' })]) {
    t.true(Object.isFrozen(config), config.kind);
  }
});

test('describing a store never includes its credentials', (t) => {
  const config = build({ store: 's3://b/vol1/', endpoint: 'http://127.0.0.1:9000' }, { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 'shh-secret' });
  const description = describeStoreConfig(config);
  t.is(description, 's3://b/vol1/ (http://127.0.0.1:9000, region us-east-1)');
  t.false(description.includes('shh-secret'));
});
