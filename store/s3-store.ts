/**
 * An ObjectStore on an S3-compatible bucket (AWS S3, Tigris, R2, MinIO, Ceph RGW, ...).
 *
 * Keys are relative to `config.prefix`. Only plain, widely implemented S3 features are used:
 * PutObject (with `If-None-Match: *` for createOnly), ranged GetObject, HeadObject,
 * ListObjectsV2 and DeleteObject. A store that accepts and ignores `If-None-Match` is
 * detected by store/probe.ts, not here.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { validateKey } from './keys.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { assertValidRange, owned } from './ranges.js';
import { httpStatusOf, s3StoreError } from './s3-errors.js';
import { rangeHeader, sliceRangedBody } from './s3-range.js';
import type { S3StoreConfig } from './store-config.js';

/** Attempts per request, first included; the SDK backs off exponentially between them on throttling, 5xx and socket errors. */
export const S3_MAX_ATTEMPTS_DEFAULT = 5;
/** Whole request and response headers; also the longest a socket may sit idle mid-body. */
export const S3_REQUEST_TIMEOUT_MS_DEFAULT = 60_000;
/** TCP (and TLS) connection set-up. */
export const S3_CONNECTION_TIMEOUT_MS = 10_000;
/** DESIGN.md §3: up to 100 uploads and ranged reads in flight, on one keep-alive agent. */
export const S3_SOCKETS_MAX = 100;
/** ListObjectsV2 returns at most 1,000 keys per page (AWS S3 API reference). */
export const S3_LIST_PAGE_KEYS_MAX = 1000;

export interface S3StoreOptions {
  maxAttempts?: number;
  requestTimeoutMs?: number;
}

export class S3Store implements ObjectStore {
  readonly description: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #secrets: readonly string[];
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #client: S3Client;

  constructor(config: S3StoreConfig, options: S3StoreOptions = {}) {
    assert(config.bucket.length > 0, 'the bucket name is empty');
    assert(config.prefix === '' || config.prefix.endsWith('/'), `the prefix ${JSON.stringify(config.prefix)} must be empty or end in "/"`);
    const requestTimeoutMs = options.requestTimeoutMs ?? S3_REQUEST_TIMEOUT_MS_DEFAULT;
    this.#bucket = config.bucket;
    this.#prefix = config.prefix;
    this.description = `s3://${config.bucket}/${config.prefix}`;
    const { credentials } = config;
    this.#secrets = credentials === undefined ? [] : [credentials.secretAccessKey, credentials.sessionToken ?? '', credentials.accessKeyId];
    this.#httpAgent = new http.Agent({ keepAlive: true, maxSockets: S3_SOCKETS_MAX });
    this.#httpsAgent = new https.Agent({ keepAlive: true, maxSockets: S3_SOCKETS_MAX });
    this.#client = new S3Client({
      region: config.region,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      forcePathStyle: config.forcePathStyle,
      // A copy: the SDK annotates the credentials object it is given, and the config is frozen.
      ...(credentials === undefined ? {} : { credentials: { ...credentials } }),
      maxAttempts: options.maxAttempts ?? S3_MAX_ATTEMPTS_DEFAULT,
      // Recent SDKs add CRC32 checksums in aws-chunked trailers by default, which several S3
      // clones (older MinIO, s3rver, some R2-compatible gateways) reject; send and check
      // checksums only where an operation requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        httpAgent: this.#httpAgent,
        httpsAgent: this.#httpsAgent,
        connectionTimeout: S3_CONNECTION_TIMEOUT_MS,
        requestTimeout: requestTimeoutMs,
        throwOnRequestTimeout: true,
        socketTimeout: requestTimeoutMs,
      }),
    });
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: this.#prefix + key,
      Body: body,
      ContentLength: body.byteLength,
      ContentType: 'application/octet-stream',
      // RFC 9110 §13.1.2 as S3 implements it: create only if no object has this key (412 otherwise).
      ...(options.createOnly === true ? { IfNoneMatch: '*' } : {}),
    });
    try {
      await this.#client.send(command);
    } catch (error) {
      throw this.#error(error, { operation: 'PutObject', key });
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const { range } = options;
    if (range !== undefined) assertValidRange(range);
    validateKey(key);
    // HTTP cannot ask for zero bytes; an empty range still reports a missing key.
    if (range !== undefined && range.lengthBytes === 0) {
      await this.head(key);
      return new Uint8Array(0);
    }
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: this.#prefix + key,
      ...(range === undefined ? {} : { Range: rangeHeader(range) }),
    });
    try {
      const response = await this.#client.send(command);
      const body = response.Body === undefined ? new Uint8Array(0) : await response.Body.transformToByteArray();
      if (range === undefined) return owned(body);
      return sliceRangedBody({ body, range, httpStatus: response.$metadata.httpStatusCode, contentRange: response.ContentRange });
    } catch (error) {
      // 416 Range Not Satisfiable: the object exists but the range starts at or past its end.
      if (range !== undefined && httpStatusOf(error) === 416) return new Uint8Array(0);
      throw this.#error(error, { operation: 'GetObject', key });
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    validateKey(key);
    try {
      const response = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }));
      return { key, sizeBytes: response.ContentLength ?? 0 };
    } catch (error) {
      // A HEAD response has no body, so a missing bucket looks like a missing key (404) here.
      throw this.#error(error, { operation: 'HeadObject', key });
    }
  }

  /** One ListObjectsV2 page (≤ 1,000 keys) in memory at a time. */
  async *list(options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const listPrefix = this.#prefix + (options.prefix ?? '');
    let startAfter = options.startAfter === undefined ? undefined : this.#prefix + options.startAfter;
    let continuationToken: string | undefined;
    for (;;) {
      const page = await this.#listPage({ listPrefix, startAfter, continuationToken });
      let lastBucketKey: string | undefined;
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        lastBucketKey = object.Key;
        assert(object.Key.startsWith(this.#prefix), `ListObjectsV2 returned ${object.Key} outside the prefix ${this.#prefix}`);
        yield { key: object.Key.slice(this.#prefix.length), sizeBytes: object.Size ?? 0 };
      }
      if (page.IsTruncated !== true || lastBucketKey === undefined) return;
      // Some S3 clones answer a truncated page without a token; resuming after the last key is equivalent.
      continuationToken = page.NextContinuationToken;
      startAfter = continuationToken === undefined ? lastBucketKey : undefined;
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }));
    } catch (error) {
      const storeError = this.#error(error, { operation: 'DeleteObject', key });
      // S3 answers 204 for a missing key; some clones answer 404 NoSuchKey. Either way it is gone.
      if (storeError.code === 'ERR_STORE_NOT_FOUND') return;
      throw storeError;
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  async #listPage(page: { listPrefix: string; startAfter: string | undefined; continuationToken: string | undefined }): Promise<ListObjectsV2CommandOutput> {
    const command = new ListObjectsV2Command({
      Bucket: this.#bucket,
      MaxKeys: S3_LIST_PAGE_KEYS_MAX,
      ...(page.listPrefix === '' ? {} : { Prefix: page.listPrefix }),
      ...(page.startAfter === undefined ? {} : { StartAfter: page.startAfter }),
      ...(page.continuationToken === undefined ? {} : { ContinuationToken: page.continuationToken }),
    });
    try {
      return await this.#client.send(command);
    } catch (error) {
      throw this.#error(error, { operation: 'ListObjectsV2', key: undefined });
    }
  }

  #error(error: unknown, context: { operation: string; key: string | undefined }) {
    return s3StoreError(error, {
      operation: context.operation,
      bucket: this.#bucket,
      bucketKey: context.key === undefined ? this.#prefix || undefined : this.#prefix + context.key,
      key: context.key,
      secrets: this.#secrets,
    });
  }
}
