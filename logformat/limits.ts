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
