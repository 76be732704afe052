/**
 * Pure encode/decode of the handshake phase (proto.md "Newstyle negotiation", "Fixed
 * newstyle negotiation", "Option types", "Option reply types"). No I/O, no state.
 */
import assert from 'node:assert/strict';
import {
  HANDSHAKE_FLAG_FIXED_NEWSTYLE,
  HANDSHAKE_FLAG_NO_ZEROES,
  IHAVEOPT_MAGIC,
  Info,
  NBD_MAGIC,
  OPTION_REPLY_MAGIC,
} from './constants.js';
import { META_CONTEXT_QUERIES_MAX, STRING_MAX_BYTES } from './limits.js';

export const GREETING_SIZE_BYTES = 18;
export const CLIENT_FLAGS_SIZE_BYTES = 4;
export const OPTION_HEADER_SIZE_BYTES = 16;
const OPTION_REPLY_HEADER_SIZE_BYTES = 20;
/** proto.md "Newstyle negotiation": reserved zeroes after an EXPORT_NAME reply. */
const EXPORT_NAME_PADDING_BYTES = 124;

/** The handshake flags this server sends; a client flag outside them drops the connection. */
export const SERVER_HANDSHAKE_FLAGS = HANDSHAKE_FLAG_FIXED_NEWSTYLE | HANDSHAKE_FLAG_NO_ZEROES;

export function encodeGreeting(): Buffer {
  const target = Buffer.alloc(GREETING_SIZE_BYTES);
  target.writeBigUInt64BE(NBD_MAGIC, 0);
  target.writeBigUInt64BE(IHAVEOPT_MAGIC, 8);
  target.writeUInt16BE(SERVER_HANDSHAKE_FLAGS, 16);
  return target;
}

export interface OptionHeader {
  magicValid: boolean;
  option: number;
  lengthBytes: number;
}

export function decodeOptionHeader(source: Buffer): OptionHeader {
  assert(source.length === OPTION_HEADER_SIZE_BYTES);
  return {
    magicValid: source.readBigUInt64BE(0) === IHAVEOPT_MAGIC,
    option: source.readUInt32BE(8),
    lengthBytes: source.readUInt32BE(12),
  };
}

export function encodeOptionReply(options: { option: number; replyType: number; data?: Buffer }): Buffer {
  const dataLengthBytes = options.data?.length ?? 0;
  const target = Buffer.alloc(OPTION_REPLY_HEADER_SIZE_BYTES + dataLengthBytes);
  target.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  target.writeUInt32BE(options.option >>> 0, 8);
  target.writeUInt32BE(options.replyType >>> 0, 12);
  target.writeUInt32BE(dataLengthBytes, 16);
  options.data?.copy(target, OPTION_REPLY_HEADER_SIZE_BYTES);
  return target;
}

export interface ExportDetails {
  sizeBytes: number;
  transmissionFlags: number;
}

/** proto.md "NBD_OPT_EXPORT_NAME": no option reply header, zeroes unless NO_ZEROES. */
export function encodeExportNameReply(details: ExportDetails & { noZeroes: boolean }): Buffer {
  const target = Buffer.alloc(10 + (details.noZeroes ? 0 : EXPORT_NAME_PADDING_BYTES));
  target.writeBigUInt64BE(BigInt(details.sizeBytes), 0);
  target.writeUInt16BE(details.transmissionFlags, 8);
  return target;
}

export interface InfoRequest {
  exportName: string;
  infoTypes: number[];
}

/**
 * NBD_OPT_INFO / NBD_OPT_GO data: u32 name length, name, u16 n, n x u16. Null when the
 * lengths do not add up exactly (the caller answers ERR_INVALID).
 */
export function decodeInfoRequest(source: Buffer): InfoRequest | null {
  if (source.length < 6) return null;
  const nameLengthBytes = source.readUInt32BE(0);
  if (nameLengthBytes > source.length - 6 || nameLengthBytes > STRING_MAX_BYTES) return null;
  const exportName = source.toString('utf8', 4, 4 + nameLengthBytes);
  const infoCount = source.readUInt16BE(4 + nameLengthBytes);
  if (source.length !== 4 + nameLengthBytes + 2 + 2 * infoCount) return null;
  const infoTypes: number[] = [];
  for (let index = 0; index < infoCount; index++) {
    infoTypes.push(source.readUInt16BE(4 + nameLengthBytes + 2 + 2 * index));
  }
  return { exportName, infoTypes };
}

export function encodeInfoExport(details: ExportDetails): Buffer {
  const target = Buffer.alloc(12);
  target.writeUInt16BE(Info.EXPORT, 0);
  target.writeBigUInt64BE(BigInt(details.sizeBytes), 2);
  target.writeUInt16BE(details.transmissionFlags, 10);
  return target;
}

export function encodeInfoBlockSize(sizes: { minBytes: number; preferredBytes: number; maxBytes: number }): Buffer {
  const target = Buffer.alloc(14);
  target.writeUInt16BE(Info.BLOCK_SIZE, 0);
  target.writeUInt32BE(sizes.minBytes, 2);
  target.writeUInt32BE(sizes.preferredBytes, 6);
  target.writeUInt32BE(sizes.maxBytes, 10);
  return target;
}

/** NBD_INFO_NAME or NBD_INFO_DESCRIPTION: u16 type, then the string. */
export function encodeInfoString(infoType: number, text: string): Buffer {
  const textBytes = Buffer.from(text, 'utf8');
  const target = Buffer.alloc(2 + textBytes.length);
  target.writeUInt16BE(infoType, 0);
  textBytes.copy(target, 2);
  return target;
}

/** NBD_REP_SERVER data: u32 name length, name, then an optional description. */
export function encodeServerEntry(exportName: string, description: string): Buffer {
  const nameBytes = Buffer.from(exportName, 'utf8');
  const descriptionBytes = Buffer.from(description, 'utf8');
  const target = Buffer.alloc(4 + nameBytes.length + descriptionBytes.length);
  target.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(target, 4);
  descriptionBytes.copy(target, 4 + nameBytes.length);
  return target;
}

export type MetaContextRequest =
  | { kind: 'valid'; exportName: string; queries: string[] }
  | { kind: 'invalid' }
  | { kind: 'too-big' };

/**
 * LIST/SET_META_CONTEXT data: u32 name length, name, u32 query count, then each query as
 * u32 length + string. Every length must stay inside the option (proto.md: else
 * ERR_INVALID).
 */
export function decodeMetaContextRequest(source: Buffer): MetaContextRequest {
  if (source.length < 8) return { kind: 'invalid' };
  const nameLengthBytes = source.readUInt32BE(0);
  if (nameLengthBytes > source.length - 8 || nameLengthBytes > STRING_MAX_BYTES) return { kind: 'invalid' };
  const exportName = source.toString('utf8', 4, 4 + nameLengthBytes);
  let positionBytes = 4 + nameLengthBytes;
  const queryCount = source.readUInt32BE(positionBytes);
  positionBytes += 4;
  if (queryCount > META_CONTEXT_QUERIES_MAX) return { kind: 'too-big' };
  const queries: string[] = [];
  for (let index = 0; index < queryCount; index++) {
    if (source.length - positionBytes < 4) return { kind: 'invalid' };
    const queryLengthBytes = source.readUInt32BE(positionBytes);
    positionBytes += 4;
    if (queryLengthBytes > source.length - positionBytes || queryLengthBytes > STRING_MAX_BYTES) {
      return { kind: 'invalid' };
    }
    queries.push(source.toString('utf8', positionBytes, positionBytes + queryLengthBytes));
    positionBytes += queryLengthBytes;
  }
  if (positionBytes !== source.length) return { kind: 'invalid' };
  return { kind: 'valid', exportName, queries };
}

/** NBD_REP_META_CONTEXT data: u32 context id, then the context name. */
export function encodeMetaContext(contextId: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const target = Buffer.alloc(4 + nameBytes.length);
  target.writeUInt32BE(contextId, 0);
  nameBytes.copy(target, 4);
  return target;
}
