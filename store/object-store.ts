/**
 * The ObjectStore seam (DESIGN.md §2): the only way any other module touches the bucket.
 *
 * A store is rooted at a volume: every key given to or returned by these methods is relative
 * to the store's prefix (`s3://bucket/vol1/` → key `0000000000000001` is `vol1/0000000000000001`
 * in the bucket). Backends: `s3`, `file` (a directory), `memory` (tests).
 */

export interface ByteRange {
  offsetBytes: number;
  lengthBytes: number;
}

export interface PutOptions {
  /** `If-None-Match: *`: fail with ERR_STORE_PRECONDITION_FAILED if the key exists. */
  createOnly?: boolean;
}

export interface GetOptions {
  /** A byte range; a range that runs past the end of the object returns what exists. */
  range?: ByteRange;
}

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
}

export interface ListOptions {
  /** Only keys that start with this (relative) prefix. Default: every key. */
  prefix?: string;
  /** Only keys strictly greater than this one. */
  startAfter?: string;
}

export interface ObjectStore {
  /** A human-readable name for logs, e.g. `s3://bucket/vol1/` or `file:///var/lib/lsvd`. Never holds secrets. */
  readonly description: string;
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void>;
  /** Throws ERR_STORE_NOT_FOUND for a missing key. */
  get(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** Throws ERR_STORE_NOT_FOUND for a missing key. */
  head(key: string): Promise<ObjectInfo>;
  /** Every key under the prefix, in ascending byte order of the key, fetched page by page. */
  list(options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Deleting a missing key succeeds (as in S3). */
  delete(key: string): Promise<void>;
  /** Releases sockets and file handles. */
  close(): Promise<void>;
}
