/**
 * Operating errors of the NBD server. The `code` identifies the error permanently; the
 * message may change (Node's lib/internal/errors.js convention).
 */
import { NbdErrno, type NbdErrnoValue } from './constants.js';

export type NbdErrorCode =
  /** listenUnix: a live process already serves this socket path. */
  | 'ERR_NBD_SOCKET_IN_USE'
  /** listenUnix: the path exists and is not a socket; it is never deleted. */
  | 'ERR_NBD_SOCKET_PATH_TAKEN'
  /** listen after close(). */
  | 'ERR_NBD_SERVER_CLOSED'
  /** The client broke the protocol so badly that its connection is closed. */
  | 'ERR_NBD_PROTOCOL';

export class NbdError extends Error {
  readonly code: NbdErrorCode;

  constructor(code: NbdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NbdError';
    this.code = code;
  }
}

/**
 * The NBD error a device failure is reported as. A device signals a specific error by a
 * `code` naming the errno (as Node's fs errors do); everything else is EIO.
 * proto.md "Error values": map EDQUOT and EFBIG to ENOSPC; avoid ENOMEM; ENOTSUP only for
 * FAST_ZERO.
 */
export function nbdErrnoForDeviceError(error: unknown, options: { fastZero: boolean }): NbdErrnoValue {
  const fields = typeof error === 'object' && error !== null ? (error as { code?: unknown; errno?: unknown }) : {};
  // A device whose own codes are not errno names says which errno it means in a string `errno`
  // (Node's fs errors carry a number there, and their `code` is the errno name).
  const code = typeof fields.errno === 'string' ? fields.errno : fields.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return NbdErrno.ENOSPC;
    case 'EPERM':
    case 'EROFS':
    case 'EACCES':
      return NbdErrno.EPERM;
    case 'EINVAL':
      return NbdErrno.EINVAL;
    case 'ESHUTDOWN':
      return NbdErrno.ESHUTDOWN;
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return options.fastZero ? NbdErrno.ENOTSUP : NbdErrno.EIO;
    default:
      return NbdErrno.EIO;
  }
}

/** A short human description of a device failure, for logs and structured error chunks. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
