/**
 * One client connection: the socket, the byte queue its phases parse (handshake, then
 * transmission), flow control, and closing. Reading pauses while the transmission phase
 * has no room (too much in flight, or replies not draining) and resumes when it has.
 * proto.md "Terminating the transmission phase": every way out finishes the requests in
 * flight and writes their replies before the socket closes (allowHalfOpen keeps the
 * write side open after the client's FIN).
 */
import type { Socket } from 'node:net';
import type { BlockDevice } from './block-device.js';
import type { BufferPool } from './buffer-pool.js';
import { ByteQueue } from './byte-queue.js';
import { describeError } from './errors.js';
import { encodeGreeting } from './handshake-codec.js';
import { CLOSE_LINGER_TIMEOUT_MS, NEGOTIATION_TIMEOUT_MS } from './limits.js';
import type { Logger } from './logger.js';
import { BASE_ALLOCATION_CONTEXT_ID, type ExportDescription, type Negotiation } from './negotiation.js';
import { NegotiationPhase, type StepResult } from './negotiation-phase.js';
import { ReplyWriter } from './reply-writer.js';
import { TransmissionPhase } from './transmission-phase.js';

export interface ConnectionOptions {
  socket: Socket;
  device: BlockDevice;
  exportDescription: ExportDescription;
  logger: Logger;
  pool: BufferPool;
  isShuttingDown: () => boolean;
}

export class NbdConnection {
  readonly #options: ConnectionOptions;
  readonly #socket: Socket;
  readonly #logger: Logger;
  readonly #queue = new ByteQueue();
  readonly #writer: ReplyWriter;
  /** The parser in charge of the bytes; null once nothing more will be read. */
  #phase: NegotiationPhase | TransmissionPhase | null;
  #transmission: TransmissionPhase | null = null;
  #parsing = false;
  #readingPaused = false;
  #peerEnded = false;
  #socketClosed = false;
  #closing: 'no' | 'waiting' | 'ending' = 'no';
  #flushOnClose = false;
  #resolveClosed!: () => void;
  /** Resolves once the socket is closed and no request is still running on the device. */
  readonly closed: Promise<void>;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#socket = options.socket;
    this.#logger = options.logger;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const onUnblocked = (): void => this.#maybeResumeReading();
    this.#writer = new ReplyWriter({ socket: this.#socket, pool: options.pool, onUnblocked });
    this.#phase = new NegotiationPhase({
      exportDescription: options.exportDescription,
      writer: this.#writer,
      logger: options.logger,
      isShuttingDown: options.isShuttingDown,
      events: {
        onTransmission: (negotiation) => this.#enterTransmission(negotiation),
        onAbort: () => {
          this.#stopParsing();
          this.#closeWhenIdle({ flush: false });
        },
        onViolation: (reason) => this.#abandon(reason),
      },
    });
    const socket = this.#socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('timeout', () => this.#onTimeout());
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onError(error));
    socket.on('close', () => this.#onClose());
    socket.setTimeout(NEGOTIATION_TIMEOUT_MS);
    this.#writer.write([encodeGreeting()]);
  }

  /** Server shutdown: new requests get ESHUTDOWN; close once in-flight requests are done. */
  beginShutdown(): void {
    if (this.#transmission === null) {
      this.#logger.debug({}, 'closing a connection still negotiating');
      this.#stopParsing();
      this.#socket.destroy();
      return;
    }
    this.#closeWhenIdle({ flush: false });
  }

  #enterTransmission(negotiation: Negotiation): void {
    const exportDescription = this.#options.exportDescription;
    const features = {
      structuredReplies: negotiation.structuredReplies,
      baseAllocationContextId: negotiation.baseAllocationSelected ? BASE_ALLOCATION_CONTEXT_ID : null,
      readOnly: exportDescription.readOnly,
      canZeroFast: exportDescription.canZeroFast,
    };
    this.#transmission = new TransmissionPhase({
      device: this.#options.device,
      features,
      writer: this.#writer,
      pool: this.#options.pool,
      logger: this.#logger,
      sizeBytes: exportDescription.sizeBytes,
      isShuttingDown: this.#options.isShuttingDown,
      events: {
        onDisconnect: () => {
          // proto.md "NBD_CMD_DISC": no reply; handle outstanding requests, then close.
          this.#logger.debug({}, 'client sent DISC');
          this.#stopParsing();
          this.#closeWhenIdle({ flush: !exportDescription.readOnly });
        },
        onViolation: (reason) => {
          const requestsInFlight = this.#requestsInFlight();
          this.#logger.warn({ reason, requestsInFlight }, 'closing connection: protocol violation');
          this.#stopParsing();
          this.#closeWhenIdle({ flush: false });
        },
        onRequestDone: () => this.#afterRequest(),
        onInternalError: () => this.#socket.destroy(),
      },
    });
    this.#phase = this.#transmission;
    this.#socket.setTimeout(0);
    this.#logger.info({ ...features, sizeBytes: exportDescription.sizeBytes() }, 'transmission started');
  }

  #onData(chunk: Buffer): void {
    if (this.#phase === null) return;
    this.#queue.push(chunk);
    this.#parse();
  }

  #parse(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    let result: StepResult = 'progress';
    try {
      while (result === 'progress' && this.#phase !== null) result = this.#phase.step(this.#queue);
    } finally {
      this.#parsing = false;
    }
    if (this.#phase === null) return;
    if (result === 'need-room') this.#pauseReading();
    // The client half-closed: a message it never finished will never come.
    if (result === 'need-bytes' && this.#peerEnded) {
      if (this.#transmission === null) return this.#abandon('client closed during negotiation');
      this.#logger.debug({ requestsInFlight: this.#requestsInFlight() }, 'client closed its side');
      this.#stopParsing();
      this.#closeWhenIdle({ flush: false });
    }
  }

  #requestsInFlight(): number {
    return this.#transmission?.requestsInFlight ?? 0;
  }

  #afterRequest(): void {
    if (this.#closing === 'waiting' || this.#socketClosed) this.#maybeFinishClosing();
    else this.#maybeResumeReading();
  }

  #pauseReading(): void {
    if (this.#readingPaused) return;
    this.#readingPaused = true;
    this.#socket.pause();
  }

  #maybeResumeReading(): void {
    if (!this.#readingPaused || this.#phase === null) return;
    if (this.#transmission !== null && !this.#transmission.canAcceptRequest()) return;
    this.#readingPaused = false;
    this.#socket.resume();
    this.#parse();
  }

  #onEnd(): void {
    // allowHalfOpen: requests already received are served and their replies written.
    this.#peerEnded = true;
    this.#parse();
  }

  #onTimeout(): void {
    if (this.#transmission === null) this.#abandon('negotiation timed out');
    else if (this.#closing === 'ending') this.#socket.destroy();
  }

  #onError(error: NodeJS.ErrnoException): void {
    const fields = { err: describeError(error) };
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') this.#logger.debug(fields, 'connection reset by client');
    else this.#logger.warn(fields, 'socket error');
  }

  #onClose(): void {
    this.#socketClosed = true;
    this.#stopParsing();
    this.#logger.debug({ requestsInFlight: this.#requestsInFlight() }, 'connection closed');
    this.#maybeFinishClosing();
  }

  /** Nothing more is parsed; later bytes are read and dropped so the client's FIN is seen. */
  #stopParsing(): void {
    this.#phase = null;
    this.#queue.clear();
    if (this.#readingPaused && !this.#socketClosed) {
      this.#readingPaused = false;
      this.#socket.resume();
    }
  }

  /** A hard disconnect, before any request is in flight. */
  #abandon(reason: string): void {
    this.#logger.warn({ reason }, 'closing connection: protocol violation');
    this.#stopParsing();
    this.#socket.destroy();
  }

  #closeWhenIdle(options: { flush: boolean }): void {
    this.#flushOnClose ||= options.flush;
    if (this.#closing === 'no') this.#closing = 'waiting';
    this.#maybeFinishClosing();
  }

  #maybeFinishClosing(): void {
    if (this.#requestsInFlight() > 0) return;
    if (this.#socketClosed) return this.#resolveClosed();
    if (this.#closing !== 'waiting') return;
    this.#closing = 'ending';
    if (!this.#flushOnClose) return this.#endSocket();
    // A clean disconnect makes what the client wrote durable before the socket closes.
    const device = this.#options.device;
    Promise.resolve()
      .then(() => device.flush())
      .then(
        () => this.#endSocket(),
        (error: unknown) => {
          this.#logger.warn({ err: describeError(error) }, 'flush after DISC failed');
          this.#endSocket();
        },
      );
  }

  #endSocket(): void {
    this.#writer.flush();
    this.#socket.setTimeout(CLOSE_LINGER_TIMEOUT_MS);
    this.#socket.end(() => this.#socket.destroy());
  }
}
