/**
 * The injected world for engine tests: a silent logger, a real clock, a seeded random
 * source, and small engine configs that make seals and backpressure happen quickly.
 */
import pino, { type Logger } from 'pino';
import { RealClock, SeededRandom } from '../../../daemon/clock.js';
import type { VolumeConfig } from '../../../daemon/volume-config.js';

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger that keeps every record, so a test can assert on what was logged. */
export function recordingLogger(): { logger: Logger; messages: () => string[]; records: () => Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records: () => records, messages: () => records.map((record) => String(record['msg'])) };
}

export function seedFromEnvironment(name: string): number {
  const fromEnvironment = process.env[name];
  return fromEnvironment === undefined ? Math.floor(Math.random() * 0x7fff_ffff) : Number(fromEnvironment);
}

export function world(seed = 1): { clock: RealClock; random: SeededRandom; logger: Logger } {
  return { clock: new RealClock(), random: new SeededRandom(seed), logger: silentLogger() };
}

/** Small objects, quick retries, a long idle time (seals happen only when a test asks). */
export const SMALL_CONFIG: Partial<VolumeConfig> = {
  targetObjectSizeBytes: 64 * 1024,
  idleSealMs: 60_000,
  unuploadedBytesMax: 1024 * 1024,
  readCacheBytes: 1024 * 1024,
  readRetryTimeoutMs: 2000,
  retryBaseDelayMs: 2,
  retryMaxDelayMs: 20,
};

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** Deterministic, position-dependent bytes: a block written at `offsetBytes` with `tag`. */
export function pattern(options: { lengthBytes: number; tag: number }): Uint8Array {
  const bytes = new Uint8Array(options.lengthBytes);
  let state = (options.tag * 2654435761) >>> 0 || 1;
  for (let index = 0; index < bytes.length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

/**
 * Byte-array equality for large buffers (ava's deepEqual renders every byte, which is slow
 * for megabytes); the message names the first differing offset.
 */
export function differenceOf(actual: Uint8Array | undefined, expected: Uint8Array | undefined): string | undefined {
  if (actual === undefined || expected === undefined) return actual === expected ? undefined : 'one side is missing';
  if (actual.length !== expected.length) return `lengths differ: ${actual.length} vs ${expected.length}`;
  if (Buffer.compare(actual, expected) === 0) return undefined;
  const offsetBytes = actual.findIndex((byte, index) => byte !== expected[index]);
  return `first difference at byte ${offsetBytes}: ${actual[offsetBytes]} vs ${expected[offsetBytes]}`;
}
