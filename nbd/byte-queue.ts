/**
 * The bytes received and not yet parsed, as a list of the socket's chunks. A parser asks
 * for n bytes only once `byteLength >= n` (the receiver pattern of undici's websocket
 * code); a message that spans chunks is copied exactly once, so a 32 MiB WRITE payload
 * arriving in 64 KiB pieces costs one copy, never a quadratic Buffer.concat.
 */
import assert from 'node:assert/strict';

export class ByteQueue {
  #chunks: Buffer[] = [];
  #byteLength = 0;

  get byteLength(): number {
    return this.#byteLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#byteLength += chunk.length;
  }

  /**
   * The next `lengthBytes` bytes, removed from the queue. Zero-copy when they lie in one
   * chunk (a view of it); otherwise one new buffer. Either way the caller owns the result:
   * the queue never writes into it again.
   */
  consume(lengthBytes: number): Buffer {
    assert(lengthBytes >= 0 && lengthBytes <= this.#byteLength);
    const first = this.#chunks[0];
    if (lengthBytes === 0 || first === undefined) return Buffer.alloc(0);
    if (first.length < lengthBytes) {
      const target = Buffer.allocUnsafe(lengthBytes);
      this.consumeInto(target);
      return target;
    }
    this.#byteLength -= lengthBytes;
    if (first.length === lengthBytes) {
      this.#chunks.shift();
      return first;
    }
    this.#chunks[0] = first.subarray(lengthBytes);
    return first.subarray(0, lengthBytes);
  }

  /** Moves the next `target.length` bytes into `target` (one copy, whatever the chunking). */
  consumeInto(target: Buffer): void {
    assert(target.length <= this.#byteLength);
    let filledBytes = 0;
    while (filledBytes < target.length) {
      const chunk = this.#chunks[0];
      assert(chunk !== undefined);
      const takeBytes = Math.min(chunk.length, target.length - filledBytes);
      chunk.copy(target, filledBytes, 0, takeBytes);
      filledBytes += takeBytes;
      if (takeBytes === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(takeBytes);
    }
    this.#byteLength -= target.length;
  }

  /** Drop up to `lengthBytes` bytes without copying them; returns how many were dropped. */
  discard(lengthBytes: number): number {
    assert(lengthBytes >= 0);
    let droppedBytes = 0;
    while (droppedBytes < lengthBytes && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      assert(chunk !== undefined);
      const takeBytes = Math.min(chunk.length, lengthBytes - droppedBytes);
      if (takeBytes === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(takeBytes);
      droppedBytes += takeBytes;
    }
    this.#byteLength -= droppedBytes;
    return droppedBytes;
  }

  clear(): void {
    this.#chunks = [];
    this.#byteLength = 0;
  }
}
