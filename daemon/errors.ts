/**
 * Operating errors of the volume engine. The `code` identifies the error permanently; the
 * message may change (Node's lib/internal/errors.js convention). The NBD server turns any
 * of these into an error reply (EIO unless it maps the code to something more precise).
 */

export type VolumeErrorCode =
  /** The volume was closed: like ESHUTDOWN. */
  | 'ERR_VOLUME_CLOSED'
  /** The volume was abandoned (a simulated crash): nothing more happens. */
  | 'ERR_VOLUME_ABANDONED'
  /** Another writer created a log object this volume meant to create (DESIGN.md §6). */
  | 'ERR_VOLUME_FENCED'
  /** Data that lives only in the store could not be read within readRetryTimeoutMs. */
  | 'ERR_VOLUME_READ_FAILED'
  /** A VolumeConfig value is out of range. */
  | 'ERR_VOLUME_CONFIG_INVALID'
  /** During a forced take-over the previous holder stored another object (DESIGN.md §6). */
  | 'ERR_VOLUME_TAKEOVER_RACE';

/** The errno an NBD reply should carry for each code (proto.md "Error values"). */
const ERRNO_OF_CODE: Readonly<Record<VolumeErrorCode, 'EIO' | 'ESHUTDOWN' | 'EINVAL'>> = {
  ERR_VOLUME_CLOSED: 'ESHUTDOWN',
  ERR_VOLUME_ABANDONED: 'ESHUTDOWN',
  ERR_VOLUME_FENCED: 'EIO',
  ERR_VOLUME_READ_FAILED: 'EIO',
  ERR_VOLUME_CONFIG_INVALID: 'EINVAL',
  ERR_VOLUME_TAKEOVER_RACE: 'EIO',
};

export class VolumeError extends Error {
  readonly code: VolumeErrorCode;
  /** What an NBD server should reply with. */
  readonly errno: 'EIO' | 'ESHUTDOWN' | 'EINVAL';

  constructor(code: VolumeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VolumeError';
    this.code = code;
    this.errno = ERRNO_OF_CODE[code];
  }
}
