/**
 * Option haggling for one connection (proto.md "Fixed newstyle negotiation", "Option
 * types"): given one option and its data, which replies to send and what happens next.
 * Pure apart from the state it keeps; the connection does the I/O.
 */
import { BASE_ALLOCATION, Info, Option, OptionReply, TransmissionFlag } from './constants.js';
import {
  decodeInfoRequest,
  decodeMetaContextRequest,
  encodeExportNameReply,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoString,
  encodeMetaContext,
  encodeOptionReply,
  encodeServerEntry,
  type ExportDetails,
} from './handshake-codec.js';
import { BLOCK_SIZE_MIN_BYTES, BLOCK_SIZE_PREFERRED_BYTES, OPTIONS_MAX, REQUEST_DATA_MAX_BYTES } from './limits.js';

/** What the negotiation needs to know about the one export. */
export interface ExportDescription {
  exportName: string;
  description: string;
  readOnly: boolean;
  /** The device zeroes as a metadata operation: SEND_FAST_ZERO is honest. */
  canZeroFast: boolean;
  sizeBytes(): number;
}

export type OptionOutcome =
  | { kind: 'continue'; replies: Buffer[] }
  /** NBD_OPT_ABORT: send the replies, then close. */
  | { kind: 'abort'; replies: Buffer[] }
  /** Send the replies, then the transmission phase starts. */
  | { kind: 'transmission'; replies: Buffer[] }
  /** A hard disconnect (proto.md allows or requires one here); nothing is sent. */
  | { kind: 'disconnect'; reason: string };

/** Context id this server gives `base:allocation` (any value; clients treat it as opaque). */
export const BASE_ALLOCATION_CONTEXT_ID = 1;

export function transmissionFlags(
  exportDescription: ExportDescription,
  negotiated: { structuredReplies: boolean },
): number {
  let flags =
    TransmissionFlag.HAS_FLAGS |
    TransmissionFlag.SEND_FLUSH |
    TransmissionFlag.SEND_CACHE |
    // One device behind every connection: a FLUSH on one covers writes made on all.
    TransmissionFlag.CAN_MULTI_CONN;
  if (exportDescription.readOnly) {
    flags |= TransmissionFlag.READ_ONLY;
  } else {
    flags |= TransmissionFlag.SEND_FUA | TransmissionFlag.SEND_TRIM | TransmissionFlag.SEND_WRITE_ZEROES;
    if (exportDescription.canZeroFast) flags |= TransmissionFlag.SEND_FAST_ZERO;
  }
  // proto.md "SEND_DF": only with structured replies. A READ is always one chunk, so DF holds.
  if (negotiated.structuredReplies) flags |= TransmissionFlag.SEND_DF;
  return flags;
}

export class Negotiation {
  readonly #export: ExportDescription;
  readonly #noZeroes: boolean;
  #optionCount = 0;
  #structuredReplies = false;
  #baseAllocationSelected = false;

  constructor(exportDescription: ExportDescription, options: { noZeroes: boolean }) {
    this.#export = exportDescription;
    this.#noZeroes = options.noZeroes;
  }

  get structuredReplies(): boolean {
    return this.#structuredReplies;
  }

  get baseAllocationSelected(): boolean {
    return this.#baseAllocationSelected;
  }

  /** True once the option count limit is used up; the caller disconnects. */
  countOption(): boolean {
    this.#optionCount += 1;
    return this.#optionCount > OPTIONS_MAX;
  }

  handle(option: number, data: Buffer, options: { shuttingDown: boolean }): OptionOutcome {
    if (options.shuttingDown && option !== Option.ABORT && option !== Option.EXPORT_NAME) {
      return errorReply(option, { replyType: OptionReply.ERR_SHUTDOWN, message: 'the server is shutting down' });
    }
    switch (option) {
      case Option.EXPORT_NAME:
        return this.#exportName(data, options);
      case Option.ABORT:
        return { kind: 'abort', replies: [ack(option)] };
      case Option.LIST:
        return this.#list(data);
      case Option.INFO:
      case Option.GO:
        return this.#infoOrGo(option, data);
      case Option.STRUCTURED_REPLY:
        return this.#structuredReply(data);
      case Option.LIST_META_CONTEXT:
      case Option.SET_META_CONTEXT:
        return this.#metaContext(option, data);
      default:
        // proto.md "Baseline": unknown options MUST get ERR_UNSUP, and parsing goes on.
        return errorReply(option, { replyType: OptionReply.ERR_UNSUP, message: 'option not supported' });
    }
  }

  #exportDetails(): ExportDetails {
    return {
      sizeBytes: this.#export.sizeBytes(),
      transmissionFlags: transmissionFlags(this.#export, { structuredReplies: this.#structuredReplies }),
    };
  }

  #knows(exportName: string): boolean {
    return exportName === '' || exportName === this.#export.exportName;
  }

  #exportName(data: Buffer, options: { shuttingDown: boolean }): OptionOutcome {
    const exportName = data.toString('utf8');
    // proto.md "NBD_OPT_EXPORT_NAME": an error cannot be sent, the session MUST end.
    if (options.shuttingDown) return { kind: 'disconnect', reason: 'EXPORT_NAME while shutting down' };
    if (!this.#knows(exportName)) {
      return { kind: 'disconnect', reason: `EXPORT_NAME of unknown export "${exportName}"` };
    }
    const reply = encodeExportNameReply({ ...this.#exportDetails(), noZeroes: this.#noZeroes });
    return { kind: 'transmission', replies: [reply] };
  }

  #list(data: Buffer): OptionOutcome {
    if (data.length !== 0) return invalid(Option.LIST, 'LIST takes no data');
    const entry = encodeServerEntry(this.#export.exportName, this.#export.description);
    return {
      kind: 'continue',
      replies: [
        encodeOptionReply({ option: Option.LIST, replyType: OptionReply.SERVER, data: entry }),
        ack(Option.LIST),
      ],
    };
  }

  #infoOrGo(option: number, data: Buffer): OptionOutcome {
    const request = decodeInfoRequest(data);
    if (request === null) return invalid(option, 'malformed INFO/GO request');
    if (!this.#knows(request.exportName)) return unknownExport(option, request.exportName);
    const infos = [encodeInfoExport(this.#exportDetails())];
    // Unknown info types are ignored (proto.md); known ones are answered only when asked.
    const asked = new Set(request.infoTypes);
    if (asked.has(Info.NAME)) infos.push(encodeInfoString(Info.NAME, this.#export.exportName));
    if (asked.has(Info.DESCRIPTION) && this.#export.description !== '') {
      infos.push(encodeInfoString(Info.DESCRIPTION, this.#export.description));
    }
    if (asked.has(Info.BLOCK_SIZE)) {
      infos.push(
        encodeInfoBlockSize({
          minBytes: BLOCK_SIZE_MIN_BYTES,
          preferredBytes: BLOCK_SIZE_PREFERRED_BYTES,
          maxBytes: REQUEST_DATA_MAX_BYTES,
        }),
      );
    }
    const replies = infos.map((info) => encodeOptionReply({ option, replyType: OptionReply.INFO, data: info }));
    replies.push(ack(option));
    if (option === Option.INFO) return { kind: 'continue', replies };
    // SET_META_CONTEXT must name the export that GO selects; there is only one export.
    return { kind: 'transmission', replies };
  }

  #structuredReply(data: Buffer): OptionOutcome {
    if (data.length !== 0) return invalid(Option.STRUCTURED_REPLY, 'STRUCTURED_REPLY takes no data');
    if (this.#structuredReplies) return invalid(Option.STRUCTURED_REPLY, 'structured replies already negotiated');
    this.#structuredReplies = true;
    return { kind: 'continue', replies: [ack(Option.STRUCTURED_REPLY)] };
  }

  #metaContext(option: number, data: Buffer): OptionOutcome {
    const isSet = option === Option.SET_META_CONTEXT;
    // proto.md "NBD_OPT_SET_META_CONTEXT": replaces the selection even when it fails.
    if (isSet) this.#baseAllocationSelected = false;
    if (isSet && !this.#structuredReplies) return invalid(option, 'SET_META_CONTEXT needs structured replies first');
    const request = decodeMetaContextRequest(data);
    if (request.kind === 'invalid') return invalid(option, 'malformed meta context request');
    if (request.kind === 'too-big') {
      return errorReply(option, { replyType: OptionReply.ERR_TOO_BIG, message: 'too many queries' });
    }
    if (!this.#knows(request.exportName)) return unknownExport(option, request.exportName);
    // LIST with no query lists everything; `base:` is the namespace wildcard LIST allows.
    const listed = (query: string): boolean => query === BASE_ALLOCATION || query === 'base:';
    const matches = isSet
      ? request.queries.includes(BASE_ALLOCATION)
      : request.queries.length === 0 || request.queries.some(listed);
    const replies: Buffer[] = [];
    if (matches) {
      // proto.md: LIST replies carry context id 0; SET gives the id BLOCK_STATUS replies use.
      const contextId = isSet ? BASE_ALLOCATION_CONTEXT_ID : 0;
      const context = encodeMetaContext(contextId, BASE_ALLOCATION);
      replies.push(encodeOptionReply({ option, replyType: OptionReply.META_CONTEXT, data: context }));
      if (isSet) this.#baseAllocationSelected = true;
    }
    replies.push(ack(option));
    return { kind: 'continue', replies };
  }
}

/** An error reply that ends the option; negotiation goes on. */
function errorReply(option: number, error: { replyType: number; message: string }): OptionOutcome {
  const data = Buffer.from(error.message, 'utf8');
  return { kind: 'continue', replies: [encodeOptionReply({ option, replyType: error.replyType, data })] };
}

function invalid(option: number, message: string): OptionOutcome {
  return errorReply(option, { replyType: OptionReply.ERR_INVALID, message });
}

function unknownExport(option: number, exportName: string): OptionOutcome {
  return errorReply(option, { replyType: OptionReply.ERR_UNKNOWN, message: `unknown export "${exportName}"` });
}

function ack(option: number): Buffer {
  return encodeOptionReply({ option, replyType: OptionReply.ACK });
}
