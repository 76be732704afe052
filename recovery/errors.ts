/**
 * Operating errors of recovery, rollback and the volume descriptor. The `code` is permanent;
 * messages name the key involved and, where there is one, the way out.
 */

export type RecoveryErrorCode =
  /** A log object inside the replayed prefix cannot be decoded; nothing was changed. */
  | 'ERR_RECOVERY_CORRUPT_OBJECT'
  /** The store kept failing (or an object vanished) while recovery read or moved objects. */
  | 'ERR_RECOVERY_STORE_FAILED'
  /** Log objects exist but `volume.json` does not, and adopting was not asked for. */
  | 'ERR_VOLUME_DESCRIPTOR_MISSING'
  /** A new volume needs a size. */
  | 'ERR_VOLUME_SIZE_REQUIRED'
  /** The size is zero, not whole sectors, or too large. */
  | 'ERR_VOLUME_SIZE_INVALID'
  /** The configured size is smaller than the volume's. */
  | 'ERR_VOLUME_SHRINK_REFUSED'
  /** The descriptor names a sector size this version cannot serve. */
  | 'ERR_VOLUME_SECTOR_SIZE_UNSUPPORTED'
  /** `rollback --to` is not a usable sequence number. */
  | 'ERR_ROLLBACK_TARGET_INVALID'
  /** Read-only recovery was asked to replay through an object outside the gap-free prefix. */
  | 'ERR_RECOVERY_TARGET_INVALID'
  /** `lsvd verify` found problems (each already reported, naming its key). */
  | 'ERR_VERIFY_FAILED'
  /** Another daemon holds the volume's lease (DESIGN.md §6). */
  | 'ERR_LEASE_HELD';

export class RecoveryError extends Error {
  readonly code: RecoveryErrorCode;
  /** The key the error is about, when there is one. */
  readonly objectKey: string | undefined;

  constructor(code: RecoveryErrorCode, message: string, options?: { objectKey?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RecoveryError';
    this.code = code;
    this.objectKey = options?.objectKey;
  }
}
