/**
 * Writes replies to one socket. Each reply goes out whole (its buffers back to back, never
 * interleaved with another reply); replies finished in the same tick share one writev via
 * cork/uncork. When the socket's buffer passes its high-water mark the writer reports
 * itself blocked until 'drain', so the connection stops reading new requests meanwhile.
 */
import type { Socket } from 'node:net';
import type { BufferPool } from './buffer-pool.js';

export class ReplyWriter {
  readonly #socket: Socket;
  readonly #pool: BufferPool;
  readonly #onUnblocked: () => void;
  #corked = false;
  #blocked = false;

  constructor(options: { socket: Socket; pool: BufferPool; onUnblocked: () => void }) {
    this.#socket = options.socket;
    this.#pool = options.pool;
    this.#onUnblocked = options.onUnblocked;
    this.#socket.on('drain', () => {
      this.#blocked = false;
      this.#onUnblocked();
    });
  }

  /** write() returned false: the peer is not reading fast enough. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /**
   * Queues one reply. `pooled` (one of `buffers`) goes back to the pool once the socket has
   * handed it to the kernel, or at once if the reply cannot be sent any more.
   */
  write(buffers: readonly Buffer[], pooled: Buffer | null = null): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) {
      if (pooled !== null) this.#pool.release(pooled);
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => this.flush());
    }
    const onWritten = pooled === null ? undefined : (): void => this.#pool.release(pooled);
    const lastIndex = buffers.length - 1;
    buffers.forEach((buffer, index) => {
      const accepted = index === lastIndex ? socket.write(buffer, onWritten) : socket.write(buffer);
      if (!accepted) this.#blocked = true;
    });
  }

  /** Sends what is corked now (before ending the socket, or at the end of the tick). */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  }
}
