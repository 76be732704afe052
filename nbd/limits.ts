/**
 * Every limit of the NBD server, each named once with its unit.
 */
import assert from 'node:assert/strict';

/**
 * Advertised INFO_BLOCK_SIZE. qemu aborts on values that break proto.md "Block size
 * constraints" (min a power of 2 <= 64 KiB; preferred a power of 2 >= max(min, 512);
 * max >= preferred); portable clients use 512-byte alignment and at most 32 MiB.
 */
export const BLOCK_SIZE_MIN_BYTES = 512;
export const BLOCK_SIZE_PREFERRED_BYTES = 4096;
/** Largest READ or WRITE; larger ones get EOVERFLOW. The kernel's max_hw_sectors is 32 MiB too. */
export const REQUEST_DATA_MAX_BYTES = 32 * 1024 * 1024;

/**
 * A rejected WRITE's payload is read and thrown away so the stream stays in sync; a
 * WRITE announcing more than this is taken as a broken stream and closes the connection.
 */
export const WRITE_SKIP_MAX_BYTES = 2 * REQUEST_DATA_MAX_BYTES;

/** Requests being served at once on one connection (the kernel uses 128 tags, libnbd 64). */
export const REQUESTS_IN_FLIGHT_MAX = 128;
/** READ and WRITE bytes being served at once on one connection. */
export const REQUEST_BYTES_IN_FLIGHT_MAX = 64 * 1024 * 1024;
/** Payload and READ buffers kept for reuse by one server, beyond those in use. */
export const POOL_IDLE_MAX_BYTES = 64 * 1024 * 1024;
/** Socket buffers: write() returns false past this many queued reply bytes. */
export const SOCKET_HIGH_WATER_MARK_BYTES = 4 * 1024 * 1024;

/** Options one connection may send before transmission (nbdkit allows 32). */
export const OPTIONS_MAX = 64;
/**
 * Largest option payload: a 4,096-byte name plus info requests or meta-context queries
 * fits many times over; more is a broken or hostile client and closes the connection.
 */
export const OPTION_DATA_MAX_BYTES = 64 * 1024;
/** proto.md "Conventions": strings MUST be no longer than 4096 bytes. */
export const STRING_MAX_BYTES = 4096;
/** Meta-context queries in one LIST/SET_META_CONTEXT; more gets ERR_TOO_BIG. */
export const META_CONTEXT_QUERIES_MAX = 128;
/** Descriptors in one BLOCK_STATUS reply; the client asks again for the rest. */
export const BLOCK_STATUS_EXTENTS_MAX = 1024;
/** Structured error messages are cut to this many bytes (the kernel never sees them). */
export const ERROR_MESSAGE_MAX_BYTES = 256;

/** Connections served at once; more are closed at accept. */
export const CONNECTIONS_MAX = 64;
/** A client has this long to finish option haggling. */
export const NEGOTIATION_TIMEOUT_MS = 30_000;
/** After the server ends a connection, the peer has this long to read the last replies. */
export const CLOSE_LINGER_TIMEOUT_MS = 10_000;

assert(BLOCK_SIZE_PREFERRED_BYTES >= BLOCK_SIZE_MIN_BYTES);
assert(REQUEST_DATA_MAX_BYTES % BLOCK_SIZE_MIN_BYTES === 0);
assert(REQUEST_BYTES_IN_FLIGHT_MAX >= REQUEST_DATA_MAX_BYTES);
assert(WRITE_SKIP_MAX_BYTES >= REQUEST_DATA_MAX_BYTES);
assert(OPTION_DATA_MAX_BYTES >= 4 * (STRING_MAX_BYTES + 8));
