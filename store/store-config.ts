/**
 * Which store to open, as parsed by the CLI from `--store <url>` and the environment.
 * Frozen by the CLI; backends read it and never print secrets from it.
 */

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreConfig {
  kind: 's3';
  bucket: string;
  /** Key prefix of the volume inside the bucket: empty, or ending in `/`. */
  prefix: string;
  /** e.g. `http://127.0.0.1:9000`; absent means AWS's own endpoint for the region. */
  endpoint?: string;
  region: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3 clones need. */
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's default chain (environment, profile, instance role). */
  credentials?: S3Credentials;
}

export interface FileStoreConfig {
  kind: 'file';
  /** Absolute path of the directory that holds the volume's keys. */
  directory: string;
}

export interface MemoryStoreConfig {
  kind: 'memory';
}

export type StoreConfig = S3StoreConfig | FileStoreConfig | MemoryStoreConfig;
