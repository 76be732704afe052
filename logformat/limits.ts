/**
 * The numbers of the bucket format (DESIGN.md §1). Each is named once, with its unit.
 */

/** lsvd writes every address and size in whole sectors of this size. */
export const SECTOR_SIZE_BYTES = 4096;

/** A log object header holds exactly this many entries, used or not. */
export const HEADER_ENTRIES_MAX = 1024;

/** u64 big-endian address + u32 big-endian size. */
export const HEADER_ENTRY_SIZE_BYTES = 12;

export const HEADER_SIZE_BYTES = HEADER_ENTRIES_MAX * HEADER_ENTRY_SIZE_BYTES;

/** Sequence numbers start here and increase by exactly one. */
export const SEQUENCE_FIRST = 1;

/** The largest sequence number that stays exact in a JavaScript number. */
export const SEQUENCE_MAX = Number.MAX_SAFE_INTEGER;

/** Log object keys are the sequence number in this many lowercase hex digits. */
export const LOG_KEY_HEX_DIGITS = 16;

/** Volume sizes stay exact as JavaScript numbers and whole sectors. */
export const VOLUME_SIZE_MAX_BYTES = Math.floor(Number.MAX_SAFE_INTEGER / SECTOR_SIZE_BYTES) * SECTOR_SIZE_BYTES;

/** A header entry's size is a u32; the largest whole-sector value it can hold. */
export const ENTRY_SIZE_MAX_BYTES = Math.floor(0xffff_ffff / SECTOR_SIZE_BYTES) * SECTOR_SIZE_BYTES;

/** Header and zero-range addresses are u64: an end (address + size) above this overflows. */
export const U64_MAX = (1n << 64n) - 1n;

/** `zeros/<sequence>`: 8-byte magic, u32 version, u32 count. */
export const ZERO_RANGES_MAGIC = 'LSVDZERO';
export const ZERO_RANGES_FORMAT_VERSION = 1;
export const ZERO_RANGES_PREAMBLE_SIZE_BYTES = 16;
/** u64 big-endian address + u64 big-endian size. */
export const ZERO_RANGE_SIZE_BYTES = 16;
/** The most ranges one companion object may hold (about 1 MiB of ranges). */
export const ZERO_RANGES_MAX = 65_536;
export const ZERO_RANGES_OBJECT_SIZE_MAX_BYTES = ZERO_RANGES_PREAMBLE_SIZE_BYTES + ZERO_RANGES_MAX * ZERO_RANGE_SIZE_BYTES;

/** `volume.json` is small; anything larger is not a descriptor lsvd wrote. */
export const VOLUME_DESCRIPTOR_SIZE_MAX_BYTES = 64 * 1024;
/** Volume ids are short, printable and safe in keys and log lines. */
export const VOLUME_ID_LENGTH_MAX = 128;
