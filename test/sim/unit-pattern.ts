/**
 * The simulator's data: every 512-byte unit a write carries says which write it came from
 * and where it belongs, so any byte read back (from the engine, or from an object in the
 * bucket) is identified without keeping copies of the data.
 *
 * A unit written by write `writeId` at volume unit `unitIndex` holds 128 little-endian u32
 * words: [writeId, unitIndex, s + c2, s + c3, ..., s + c127], where s is a hash of
 * (writeId, unitIndex) and ck = k × 0x9e3779b1 (mod 2^32).
 * All zeros is "zeros" (never written, trimmed or zeroed). Anything else is garbage: data
 * torn, misplaced or invented by the engine.
 */
import assert from 'node:assert/strict';

/** Write ids and the unit size of the model (the NBD granularity the engine accepts). */
export const UNIT_SIZE_BYTES = 512;
const WORDS_PER_UNIT = UNIT_SIZE_BYTES / 4;
/** The value of a unit that reads as zeros. */
export const ZERO_VALUE = 0;
/** The value of a unit that is neither zeros nor a unit some write produced at that place. */
export const GARBAGE_VALUE = 0xffff_ffff;
/** Write ids run from 1 to below GARBAGE_VALUE. */
export const WRITE_ID_MAX = GARBAGE_VALUE - 1;

/** Word k of a unit is its seed word plus this constant: one add per word to check. */
const WORD_OFFSETS = Uint32Array.from({ length: WORDS_PER_UNIT }, (_, word) => Math.imul(word, 0x9e37_79b1) >>> 0);

/** A unit's seed word: a hash of the write and the place. */
function seedWord(writeId: number, unitIndex: number): number {
  let state = Math.imul(writeId, 0x85eb_ca77) ^ Math.imul(unitIndex + 1, 0xc2b2_ae3d);
  state ^= state >>> 15;
  state = Math.imul(state, 0x2c1b_3c6d);
  return (state ^ (state >>> 12)) >>> 0;
}

/** The bytes as u32 words; unit data is always 4-byte aligned in practice. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  assert(LITTLE_ENDIAN, 'the unit pattern is read as little-endian words');
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Uint32Array(bytes.slice().buffer);
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The bytes of units [firstUnit, firstUnit + unitCount) as written by `writeId`. */
export function encodeUnits(options: { writeId: number; firstUnit: number; unitCount: number }): Uint8Array {
  const { writeId, firstUnit, unitCount } = options;
  assert(Number.isInteger(writeId) && writeId >= 1 && writeId <= WRITE_ID_MAX, 'a write id is a u32 other than 0 and GARBAGE_VALUE');
  const bytes = new Uint8Array(unitCount * UNIT_SIZE_BYTES);
  const words = wordsOf(bytes);
  for (let unit = 0; unit < unitCount; unit++) {
    const unitIndex = firstUnit + unit;
    const base = unit * WORDS_PER_UNIT;
    const seed = seedWord(writeId, unitIndex);
    for (let word = 2; word < WORDS_PER_UNIT; word++) words[base + word] = (seed + WORD_OFFSETS[word]!) >>> 0;
    words[base] = writeId;
    words[base + 1] = unitIndex;
  }
  return bytes;
}

/**
 * The value of each whole unit in `bytes`, which hold units from `firstUnit` on: ZERO_VALUE,
 * the write id that produced it, or GARBAGE_VALUE.
 */
export function decodeUnits(bytes: Uint8Array, firstUnit: number): Uint32Array {
  assert.equal(bytes.length % UNIT_SIZE_BYTES, 0, 'whole units');
  const unitCount = bytes.length / UNIT_SIZE_BYTES;
  const values = new Uint32Array(unitCount);
  const words = wordsOf(bytes);
  for (let unit = 0; unit < unitCount; unit++) values[unit] = decodeUnit(words, unit * WORDS_PER_UNIT, firstUnit + unit);
  return values;
}

function decodeUnit(words: Uint32Array, base: number, unitIndex: number): number {
  const writeId = words[base]!;
  if (writeId === ZERO_VALUE) {
    for (let word = 1; word < WORDS_PER_UNIT; word++) if (words[base + word] !== 0) return GARBAGE_VALUE;
    return ZERO_VALUE;
  }
  if (writeId === GARBAGE_VALUE || words[base + 1] !== unitIndex) return GARBAGE_VALUE;
  const seed = seedWord(writeId, unitIndex);
  for (let word = 2; word < WORDS_PER_UNIT; word++) {
    if (words[base + word] !== (seed + WORD_OFFSETS[word]!) >>> 0) return GARBAGE_VALUE;
  }
  return writeId;
}

/** A unit's value for messages: "zeros", "write 17" or "garbage". */
export function describeValue(value: number): string {
  if (value === ZERO_VALUE) return 'zeros';
  if (value === GARBAGE_VALUE) return 'garbage';
  return `write ${value}`;
}
