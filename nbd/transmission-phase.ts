/**
 * The transmission phase of one connection as a parser: request headers and WRITE payloads,
 * each consumed only once fully buffered. Valid requests run on the device concurrently
 * and are answered in completion order; at most REQUESTS_IN_FLIGHT_MAX requests and
 * REQUEST_BYTES_IN_FLIGHT_MAX bytes (plus one request) are in flight, and no new request
 * is taken while the socket's write buffer is full.
 */
import assert from 'node:assert/strict';
import type { BlockDevice } from './block-device.js';
import type { BufferPool } from './buffer-pool.js';
import type { ByteQueue } from './byte-queue.js';
import { Command, NbdErrno, REQUEST_MAGIC } from './constants.js';
import { describeError } from './errors.js';
import { REQUEST_BYTES_IN_FLIGHT_MAX, REQUESTS_IN_FLIGHT_MAX, WRITE_SKIP_MAX_BYTES } from './limits.js';
import type { Logger } from './logger.js';
import type { StepResult } from './negotiation-phase.js';
import type { ReplyWriter } from './reply-writer.js';
import {
  describeRequest,
  encodeErrorReply,
  executeRequest,
  validateRequest,
  type RequestError,
  type SessionFeatures,
} from './requests.js';
import { decodeRequestHeader, REQUEST_HEADER_SIZE_BYTES, type RequestHeader } from './transmission-codec.js';

export interface TransmissionEvents {
  /** NBD_CMD_DISC: nothing more will be read; close once requests in flight are done. */
  onDisconnect(): void;
  /** A malformed stream: nothing after it can be trusted; close once requests in flight are done. */
  onViolation(reason: string): void;
  /** A request finished and its reply was queued. */
  onRequestDone(): void;
  /** A request failed in a way the server did not expect (a bug): drop the connection. */
  onInternalError(error: unknown): void;
}

export interface TransmissionPhaseOptions {
  device: BlockDevice;
  features: SessionFeatures;
  writer: ReplyWriter;
  pool: BufferPool;
  logger: Logger;
  sizeBytes: () => number;
  isShuttingDown: () => boolean;
  events: TransmissionEvents;
}

export class TransmissionPhase {
  readonly #options: TransmissionPhaseOptions;
  #state: 'request-header' | 'write-payload' | 'skip-payload' = 'request-header';
  /** The WRITE whose payload is being read or skipped. */
  #pendingWrite: RequestHeader | null = null;
  #pendingRejection: RequestError | null = null;
  #skipRemainingBytes = 0;
  #requestsInFlight = 0;
  #bytesInFlight = 0;

  constructor(options: TransmissionPhaseOptions) {
    this.#options = options;
  }

  get requestsInFlight(): number {
    return this.#requestsInFlight;
  }

  /** Room for another request: under both in-flight bounds, and replies are draining. */
  canAcceptRequest(): boolean {
    return (
      !this.#options.writer.blocked &&
      this.#requestsInFlight < REQUESTS_IN_FLIGHT_MAX &&
      this.#bytesInFlight < REQUEST_BYTES_IN_FLIGHT_MAX
    );
  }

  step(queue: ByteQueue): StepResult {
    switch (this.#state) {
      case 'request-header':
        if (queue.byteLength < REQUEST_HEADER_SIZE_BYTES) return 'need-bytes';
        if (!this.canAcceptRequest()) return 'need-room';
        this.#onRequestHeader(decodeRequestHeader(queue.consume(REQUEST_HEADER_SIZE_BYTES)));
        return 'progress';
      case 'write-payload': {
        // The whole payload at once: one copy per request, not one per socket chunk (measured
        // cheaper than copying each chunk as it arrives).
        const header = this.#pendingWrite;
        assert(header !== null, 'write-payload state without a pending WRITE');
        if (queue.byteLength < header.lengthBytes) return 'need-bytes';
        this.#pendingWrite = null;
        this.#state = 'request-header';
        const payload = this.#options.pool.acquire(header.lengthBytes);
        queue.consumeInto(payload);
        this.#dispatch(header, payload);
        return 'progress';
      }
      case 'skip-payload':
        this.#skipRemainingBytes -= queue.discard(this.#skipRemainingBytes);
        if (this.#skipRemainingBytes > 0) return 'need-bytes';
        this.#state = 'request-header';
        this.#sendPendingRejection();
        return 'progress';
    }
  }

  #onRequestHeader(header: RequestHeader): void {
    const { events, features, logger } = this.#options;
    if (header.magic !== REQUEST_MAGIC) return events.onViolation(`bad request magic 0x${header.magic.toString(16)}`);
    if (header.type === Command.DISC) return events.onDisconnect();
    const rejection = this.#options.isShuttingDown()
      ? { errno: NbdErrno.ESHUTDOWN, message: 'the server is shutting down' }
      : validateRequest(header, { features, sizeBytes: this.#options.sizeBytes() });
    if (rejection !== null) {
      logger.debug({ ...describeRequest(header), errno: rejection.errno }, rejection.message);
    }
    if (header.type !== Command.WRITE || header.lengthBytes === 0) {
      if (rejection === null) this.#dispatch(header, null);
      else this.#writeRejection(header, rejection);
      return;
    }
    this.#pendingWrite = header;
    if (rejection === null) {
      this.#state = 'write-payload';
      return;
    }
    // proto.md "Error values": never disconnect for these; a rejected WRITE's payload is consumed.
    if (header.lengthBytes > WRITE_SKIP_MAX_BYTES) {
      return events.onViolation(`WRITE of ${header.lengthBytes} bytes is too large to skip`);
    }
    this.#pendingRejection = rejection;
    this.#skipRemainingBytes = header.lengthBytes;
    this.#state = 'skip-payload';
  }

  #sendPendingRejection(): void {
    const header = this.#pendingWrite;
    const rejection = this.#pendingRejection;
    this.#pendingWrite = null;
    this.#pendingRejection = null;
    if (header !== null && rejection !== null) this.#writeRejection(header, rejection);
  }

  #writeRejection(header: RequestHeader, rejection: RequestError): void {
    const structuredReplies = this.#options.features.structuredReplies;
    this.#options.writer.write([encodeErrorReply(header, { ...rejection, structuredReplies })]);
  }

  #dispatch(header: RequestHeader, payload: Buffer | null): void {
    const { device, features, logger, pool, writer, events } = this.#options;
    const dataBytes = header.type === Command.READ || header.type === Command.WRITE ? header.lengthBytes : 0;
    this.#requestsInFlight += 1;
    this.#bytesInFlight += dataBytes;
    executeRequest({ device, features, logger, pool }, { header, payload })
      .then((reply) => {
        // BlockDevice contract: the payload is the server's again once the write settled.
        if (payload !== null) pool.release(payload);
        writer.write(reply.buffers, reply.pooled);
      })
      .catch((error: unknown) => {
        logger.error({ err: describeError(error) }, 'request failed unexpectedly');
        events.onInternalError(error);
      })
      .finally(() => {
        this.#requestsInFlight -= 1;
        this.#bytesInFlight -= dataBytes;
        events.onRequestDone();
      });
  }
}
