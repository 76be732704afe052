/**
 * Reusable buffers for WRITE payloads and READ data. Every buffer V8 allocates outside its
 * heap counts as external memory, and each 64 MiB of it forces a full garbage collection:
 * at a few GiB/s a fresh buffer per request means dozens of full collections a second.
 * Reusing buffers keeps the data path allocation-free once warm.
 *
 * Capacities are powers of two; a buffer handed out is a view of exactly the length asked.
 */
import assert from 'node:assert/strict';

/** The smallest capacity handed out; smaller requests share this class. */
export const POOL_CAPACITY_MIN_BYTES = 4096;

export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #idleMaxBytes: number;
  #idleBytes = 0;

  /** `idleMaxBytes`: buffers kept for reuse beyond this are left to the garbage collector. */
  constructor(options: { idleMaxBytes: number }) {
    assert(options.idleMaxBytes >= 0);
    this.#idleMaxBytes = options.idleMaxBytes;
  }

  get idleBytes(): number {
    return this.#idleBytes;
  }

  /** A buffer of exactly `lengthBytes`, with undefined contents. */
  acquire(lengthBytes: number): Buffer {
    assert(Number.isSafeInteger(lengthBytes) && lengthBytes > 0);
    const capacityBytes = capacityFor(lengthBytes);
    const arrayBuffer = this.#free.get(capacityBytes)?.pop();
    if (arrayBuffer !== undefined) {
      this.#idleBytes -= capacityBytes;
      return Buffer.from(arrayBuffer, 0, lengthBytes);
    }
    return Buffer.from(Buffer.allocUnsafeSlow(capacityBytes).buffer, 0, lengthBytes);
  }

  /** Gives back a buffer from `acquire`; the caller must not touch it afterwards. */
  release(buffer: Buffer): void {
    const arrayBuffer = buffer.buffer;
    assert(arrayBuffer instanceof ArrayBuffer && buffer.byteOffset === 0);
    const capacityBytes = arrayBuffer.byteLength;
    assert(capacityBytes === capacityFor(capacityBytes), 'released a buffer the pool did not hand out');
    if (this.#idleBytes + capacityBytes > this.#idleMaxBytes) return;
    let list = this.#free.get(capacityBytes);
    if (list === undefined) {
      list = [];
      this.#free.set(capacityBytes, list);
    }
    list.push(arrayBuffer);
    this.#idleBytes += capacityBytes;
  }
}

function capacityFor(lengthBytes: number): number {
  if (lengthBytes <= POOL_CAPACITY_MIN_BYTES) return POOL_CAPACITY_MIN_BYTES;
  return 2 ** Math.ceil(Math.log2(lengthBytes));
}
