/**
 * What the NBD server drives. The server knows nothing of S3 or the log; anything that
 * implements this interface can be exported (the log-structured volume, an in-memory device).
 *
 * Offsets and lengths are validated by the server before a call reaches the device:
 * they are multiples of 512 and within `sizeBytes`.
 */

export interface WriteOptions {
  /** Force Unit Access: resolve only once this write is durable. */
  fua: boolean;
}

export interface WriteZeroesOptions extends WriteOptions {
  /** NBD_CMD_FLAG_NO_HOLE: the range must stay allocated (not become a hole). */
  noHole: boolean;
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
  read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array>;
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
