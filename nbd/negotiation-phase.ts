/**
 * The handshake phase of one connection as a parser: client flags, then options (header,
 * then data), each consumed only once fully buffered, answered by the Negotiation.
 */
import type { ByteQueue } from './byte-queue.js';
import { CLIENT_FLAG_NO_ZEROES, optionName } from './constants.js';
import {
  CLIENT_FLAGS_SIZE_BYTES,
  decodeOptionHeader,
  OPTION_HEADER_SIZE_BYTES,
  SERVER_HANDSHAKE_FLAGS,
} from './handshake-codec.js';
import { OPTION_DATA_MAX_BYTES } from './limits.js';
import type { Logger } from './logger.js';
import { Negotiation, type ExportDescription } from './negotiation.js';
import type { ReplyWriter } from './reply-writer.js';

/** What a parser step did: consumed a message, or needs more bytes, or needs room first. */
export type StepResult = 'progress' | 'need-bytes' | 'need-room';

export interface NegotiationEvents {
  /** The final reply was written; requests follow. */
  onTransmission(negotiation: Negotiation): void;
  /** NBD_OPT_ABORT was acknowledged: close the connection softly. */
  onAbort(): void;
  /** The client broke the handshake: hard disconnect. */
  onViolation(reason: string): void;
}

export interface NegotiationPhaseOptions {
  exportDescription: ExportDescription;
  writer: ReplyWriter;
  logger: Logger;
  isShuttingDown: () => boolean;
  events: NegotiationEvents;
}

export class NegotiationPhase {
  readonly #options: NegotiationPhaseOptions;
  #state: 'client-flags' | 'option-header' | 'option-data' = 'client-flags';
  #negotiation: Negotiation | null = null;
  #pendingOption = { option: 0, lengthBytes: 0 };

  constructor(options: NegotiationPhaseOptions) {
    this.#options = options;
  }

  step(queue: ByteQueue): StepResult {
    switch (this.#state) {
      case 'client-flags':
        if (queue.byteLength < CLIENT_FLAGS_SIZE_BYTES) return 'need-bytes';
        this.#onClientFlags(queue.consume(CLIENT_FLAGS_SIZE_BYTES).readUInt32BE(0));
        return 'progress';
      case 'option-header':
        if (queue.byteLength < OPTION_HEADER_SIZE_BYTES) return 'need-bytes';
        this.#onOptionHeader(queue.consume(OPTION_HEADER_SIZE_BYTES));
        return 'progress';
      case 'option-data':
        if (queue.byteLength < this.#pendingOption.lengthBytes) return 'need-bytes';
        this.#onOption(queue.consume(this.#pendingOption.lengthBytes));
        return 'progress';
    }
  }

  #onClientFlags(clientFlags: number): void {
    // proto.md "Client flags": an unknown flag, or one not advertised, MUST drop the connection.
    if ((clientFlags & ~SERVER_HANDSHAKE_FLAGS) !== 0) {
      this.#options.events.onViolation(`unknown client flags 0x${clientFlags.toString(16)}`);
      return;
    }
    const noZeroes = (clientFlags & CLIENT_FLAG_NO_ZEROES) !== 0;
    this.#negotiation = new Negotiation(this.#options.exportDescription, { noZeroes });
    this.#state = 'option-header';
  }

  #onOptionHeader(source: Buffer): void {
    const { events } = this.#options;
    const header = decodeOptionHeader(source);
    if (!header.magicValid) return events.onViolation('bad option magic');
    if (this.#negotiation?.countOption() !== false) return events.onViolation('too many options');
    // proto.md: a server MAY hard-disconnect a client whose behaviour looks like denial of service.
    if (header.lengthBytes > OPTION_DATA_MAX_BYTES) {
      return events.onViolation(`option data of ${header.lengthBytes} bytes`);
    }
    this.#pendingOption = { option: header.option, lengthBytes: header.lengthBytes };
    this.#state = 'option-data';
  }

  #onOption(data: Buffer): void {
    const { events, writer, logger } = this.#options;
    const negotiation = this.#negotiation;
    if (negotiation === null) return events.onViolation('option before client flags');
    const { option } = this.#pendingOption;
    const outcome = negotiation.handle(option, data, { shuttingDown: this.#options.isShuttingDown() });
    logger.debug({ option: optionName(option), outcome: outcome.kind }, 'option');
    this.#state = 'option-header';
    switch (outcome.kind) {
      case 'continue':
        return writer.write(outcome.replies);
      case 'abort':
        writer.write(outcome.replies);
        return events.onAbort();
      case 'disconnect':
        return events.onViolation(outcome.reason);
      case 'transmission':
        writer.write(outcome.replies);
        return events.onTransmission(negotiation);
    }
  }
}
