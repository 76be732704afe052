/**
 * What the NBD server drives. The server knows nothing of S3 or the log; anything that
 * implements this interface can be exported (the log-structured volume, an in-memory device).
 *
 * Offsets and lengths are validated by the server before a call reaches the device:
 * they are multiples of 512 and within `sizeBytes`.
 *
 * Errors: a rejected promise becomes an NBD error reply, never a crash. A device names a
 * specific failure with an errno-style `code` on the error, as Node's fs errors do:
 * ENOSPC/EDQUOT/EFBIG -> ENOSPC, EPERM/EROFS/EACCES -> EPERM, ESHUTDOWN -> ESHUTDOWN,
 * ENOTSUP -> ENOTSUP (FAST_ZERO only); anything else -> EIO. A device whose `code` is its own
 * (e.g. ERR_VOLUME_CLOSED) names the errno in a string `errno` field instead.
 *
 * Buffers: `data` passed to `write` is the device's to read until the returned promise
 * settles; afterwards the server reuses it, so a device that keeps the bytes copies them.
 * The server never modifies a buffer returned by `read`.
 */

export interface WriteOptions {
  /** Force Unit Access: resolve only once this write is durable. */
  fua: boolean;
}

export interface WriteZeroesOptions extends WriteOptions {
  /** NBD_CMD_FLAG_NO_HOLE: the range must stay allocated (not become a hole). */
  noHole: boolean;
  /**
   * NBD_CMD_FLAG_FAST_ZERO: if this range cannot be zeroed faster than writing zeroes,
   * reject at once with an error whose `code` is 'ENOTSUP', changing nothing.
   * Only sent to a device whose `canZeroFast` is true.
   */
  fastOnly?: boolean;
}

/** One run of `base:allocation` block status, in order from the requested offset. */
export interface BlockStatusExtent {
  lengthBytes: number;
  /** Never written, or trimmed: reads as zeros and costs nothing. */
  hole: boolean;
  /** Reads as zeros. */
  zero: boolean;
}

export interface BlockDevice {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /**
   * Optional: writeZeroes is a metadata operation, never slower than a write, so the
   * server may advertise NBD_FLAG_SEND_FAST_ZERO. Absent means false.
   */
  readonly canZeroFast?: boolean;
  read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array>;
  /**
   * Optional: `read` into the caller's buffer (`target.length` bytes from `offsetBytes`),
   * so the server can reuse reply buffers instead of allocating one per READ. The device
   * writes into `target` only until the returned promise settles.
   */
  readInto?(offsetBytes: number, target: Uint8Array): Promise<void>;
  write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void>;
  /** Resolves once every write that resolved before this call is durable. */
  flush(): Promise<void>;
  /** The range may read as zeros afterwards (lsvd's devices always make it read as zeros). */
  trim(offsetBytes: number, lengthBytes: number, options: WriteOptions): Promise<void>;
  writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions): Promise<void>;
  /** Optional hint: bring the range into a cache. */
  cache?(offsetBytes: number, lengthBytes: number): Promise<void>;
  /** Optional: allocation status for `base:allocation`; must cover at least one byte. */
  blockStatus?(offsetBytes: number, lengthBytes: number): Promise<BlockStatusExtent[]>;
}
