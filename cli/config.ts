/**
 * Flags + environment → one validated, frozen configuration (DESIGN.md §7). Flags win over the
 * environment. Every command builds its config here, so `lsvd run` and the operator tools
 * accept the same names. Secrets (the AWS secret key and session token) are only ever held in
 * the returned StoreConfig; nothing here prints them.
 */

import type { Command } from 'commander';
import type { S3Credentials, StoreConfig } from '../store/store-config.js';
import { usageError } from './errors.js';
import { normalisePrefix, parseStoreUrl } from './store-url.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** Every environment variable lsvd reads, named once. */
export const ENVIRONMENT_VARIABLES = {
  store: 'LSVD_STORE',
  prefix: 'LSVD_PREFIX',
  pathStyle: 'LSVD_PATH_STYLE',
  logLevel: 'LSVD_LOG_LEVEL',
  logFormat: 'LSVD_LOG_FORMAT',
  bucketName: 'BUCKET_NAME',
  flyBucket: 'FLY_LSVD_S3_BUCKET',
  awsEndpoint: 'AWS_ENDPOINT_URL_S3',
  flyEndpoint: 'FLY_LSVD_S3_ENDPOINT',
  region: 'AWS_REGION',
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
  deviceSize: 'FLY_LSVD_DEVICE_SIZE',
  mountPoint: 'FLY_LSVD_MOUNT_POINT',
} as const;

const ENV = ENVIRONMENT_VARIABLES;
export const DEFAULT_REGION = 'us-east-1';

export interface StoreFlags {
  store?: string | undefined;
  prefix?: string | undefined;
  endpoint?: string | undefined;
  region?: string | undefined;
  pathStyle?: boolean | undefined;
}

/** Adds the store flags to a command; every command that opens a store calls this. */
export function addStoreOptions(command: Command): Command {
  return command
    .option('--store <url>', `s3://bucket/prefix/, file:///path, a directory, or memory: (env ${ENV.store})`)
    .option('--prefix <prefix>', `volume key prefix inside the bucket (env ${ENV.prefix})`)
    .option('--endpoint <url>', `S3 endpoint, e.g. http://127.0.0.1:9000 (env ${ENV.awsEndpoint}, ${ENV.flyEndpoint})`)
    .option('--region <region>', `S3 region (env ${ENV.region}; default ${DEFAULT_REGION})`)
    .option('--path-style', `path-style S3 addressing (default when an endpoint is set; env ${ENV.pathStyle})`)
    .option('--no-path-style', 'virtual-hosted S3 addressing');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The first of `names` set in `env`. */
function firstFromEnvironment(env: Environment, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) return value;
  }
  return undefined;
}

export function parseBoolean(text: string, what: string): boolean {
  const normalised = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(normalised)) return true;
  if (['0', 'false', 'no', 'off'].includes(normalised)) return false;
  throw usageError(`${what} must be true or false, not ${JSON.stringify(text)}`);
}

function parseEndpoint(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`${source} is not a URL; expected e.g. http://127.0.0.1:9000`);
  }
  // Never echo the value: an endpoint with user:password@ would leak it.
  if (url.username !== '' || url.password !== '') throw usageError(`${source} must not contain credentials`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${source} must be an http:// or https:// URL`);
  return url.href.replace(/\/$/, '');
}

function bucketFromEnvironment(env: Environment): string | undefined {
  const bucketName = nonEmpty(env[ENV.bucketName]);
  const flyBucket = nonEmpty(env[ENV.flyBucket]);
  if (bucketName !== undefined && flyBucket !== undefined && bucketName !== flyBucket) {
    throw usageError(`${ENV.bucketName} and ${ENV.flyBucket} name different buckets; unset one or pass --store s3://bucket/`);
  }
  return bucketName ?? flyBucket;
}

function credentialsFromEnvironment(env: Environment): S3Credentials | undefined {
  const accessKeyId = nonEmpty(env[ENV.accessKeyId]);
  const secretAccessKey = nonEmpty(env[ENV.secretAccessKey]);
  const sessionToken = nonEmpty(env[ENV.sessionToken]);
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw usageError(`set both ${ENV.accessKeyId} and ${ENV.secretAccessKey}, or neither (to use the AWS default credential chain)`);
  }
  // Not frozen: the AWS SDK annotates the credentials object it is given (a `$source` field).
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

function s3Config(options: { bucket: string; prefix: string; flags: StoreFlags; env: Environment }): StoreConfig {
  const { flags, env } = options;
  const endpointFlag = nonEmpty(flags.endpoint);
  const endpointEnvironment = firstFromEnvironment(env, [ENV.awsEndpoint, ENV.flyEndpoint]);
  const endpoint =
    endpointFlag !== undefined
      ? parseEndpoint(endpointFlag, '--endpoint')
      : endpointEnvironment === undefined
        ? undefined
        : parseEndpoint(endpointEnvironment, `${ENV.awsEndpoint}/${ENV.flyEndpoint}`);
  const pathStyleEnvironment = nonEmpty(env[ENV.pathStyle]);
  const forcePathStyle =
    flags.pathStyle ?? (pathStyleEnvironment === undefined ? endpoint !== undefined : parseBoolean(pathStyleEnvironment, ENV.pathStyle));
  const region = nonEmpty(flags.region) ?? nonEmpty(env[ENV.region]) ?? DEFAULT_REGION;
  const credentials = credentialsFromEnvironment(env);
  return {
    kind: 's3',
    bucket: options.bucket,
    prefix: options.prefix,
    region,
    forcePathStyle,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(credentials === undefined ? {} : { credentials }),
  };
}

/** S3-only flags make no sense for a directory or memory store; refuse rather than ignore them. */
function refuseS3Flags(flags: StoreFlags, kind: string): void {
  const given = [
    flags.endpoint === undefined ? undefined : '--endpoint',
    flags.region === undefined ? undefined : '--region',
    flags.pathStyle === undefined ? undefined : '--path-style/--no-path-style',
  ].filter((flag) => flag !== undefined);
  if (given.length > 0) throw usageError(`${given.join(', ')} only apply to an s3:// store, not a ${kind} store`);
}

export interface StoreConfigOptions {
  flags: StoreFlags;
  env: Environment;
  /** Relative directory paths resolve against this. */
  cwd: string;
  /** Used when neither --store nor any bucket variable is set; absent: that is a usage error. */
  defaultStore?: StoreConfig;
}

/** The validated, frozen StoreConfig for the flags and environment. */
export function buildStoreConfig(options: StoreConfigOptions): Readonly<StoreConfig> {
  const { flags, env, cwd } = options;
  const prefixOption = nonEmpty(flags.prefix) ?? nonEmpty(env[ENV.prefix]);
  const storeUrl = nonEmpty(flags.store) ?? nonEmpty(env[ENV.store]);
  const bucket = storeUrl === undefined ? bucketFromEnvironment(env) : undefined;
  if (storeUrl === undefined && bucket === undefined) {
    if (options.defaultStore !== undefined) return Object.freeze({ ...options.defaultStore });
    throw usageError(`no store configured: pass --store <url> or set ${ENV.store}, ${ENV.bucketName} or ${ENV.flyBucket}`);
  }
  const parsed = storeUrl === undefined ? { kind: 's3' as const, bucket: bucket ?? '', prefix: '' } : parseStoreUrl(storeUrl, { cwd });
  if (parsed.kind === 's3') {
    if (prefixOption !== undefined && parsed.prefix !== '') {
      throw usageError('the prefix is given twice: in the s3:// URL and by --prefix/LSVD_PREFIX; keep one');
    }
    const prefix = prefixOption === undefined ? parsed.prefix : normalisePrefix(prefixOption, '--prefix');
    return Object.freeze(s3Config({ bucket: parsed.bucket, prefix, flags, env }));
  }
  refuseS3Flags(flags, parsed.kind);
  if (prefixOption !== undefined) throw usageError(`--prefix/${ENV.prefix} only applies to an s3:// store; put the volume's directory in --store`);
  return Object.freeze(parsed.kind === 'file' ? { kind: 'file', directory: parsed.directory } : { kind: 'memory' });
}

/** Values that must never appear in any output, for the last-line-of-defence redaction. */
export function secretsIn(env: Environment): string[] {
  return [ENV.secretAccessKey, ENV.sessionToken].map((name) => env[name]).filter((value): value is string => value !== undefined && value.length >= 4);
}

/** How to name a store in output: never holds credentials. */
export function describeStoreConfig(config: StoreConfig): string {
  if (config.kind === 's3') {
    const where = config.endpoint === undefined ? `region ${config.region}` : `${config.endpoint}, region ${config.region}`;
    return `s3://${config.bucket}/${config.prefix} (${where})`;
  }
  if (config.kind === 'file') return `file://${config.directory}`;
  return 'memory:';
}
