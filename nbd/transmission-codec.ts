/**
 * Pure encode/decode of the transmission phase (proto.md "Request message", "Simple reply
 * message", "Structured reply chunk message"). The cookie ("handle") is kept as two u32
 * halves and written back byte for byte: old kernels filled it in host byte order, so it
 * must be echoed raw, never interpreted.
 */
import assert from 'node:assert/strict';
import { REPLY_FLAG_DONE, ReplyType, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC } from './constants.js';
import { ERROR_MESSAGE_MAX_BYTES } from './limits.js';

export const REQUEST_HEADER_SIZE_BYTES = 28;
export const SIMPLE_REPLY_SIZE_BYTES = 16;
export const STRUCTURED_HEADER_SIZE_BYTES = 20;
/** An OFFSET_DATA chunk header plus its u64 offset, written in front of the data. */
export const READ_CHUNK_HEADER_SIZE_BYTES = STRUCTURED_HEADER_SIZE_BYTES + 8;

const TWO_TO_THE_32 = 0x1_0000_0000;

export interface Cookie {
  cookieHigh: number;
  cookieLow: number;
}

export interface RequestHeader extends Cookie {
  magic: number;
  flags: number;
  type: number;
  /**
   * Exact below 2^53; above, a number larger than any device size (the bounds check
   * rejects it before a device sees it).
   */
  offsetBytes: number;
  /** u32, read unsigned: the kernel sends TRIMs of almost 4 GiB. */
  lengthBytes: number;
}

export function decodeRequestHeader(source: Buffer): RequestHeader {
  assert(source.length === REQUEST_HEADER_SIZE_BYTES);
  return {
    magic: source.readUInt32BE(0),
    flags: source.readUInt16BE(4),
    type: source.readUInt16BE(6),
    cookieHigh: source.readUInt32BE(8),
    cookieLow: source.readUInt32BE(12),
    offsetBytes: source.readUInt32BE(16) * TWO_TO_THE_32 + source.readUInt32BE(20),
    lengthBytes: source.readUInt32BE(24),
  };
}

/** Test and fuzz clients build requests with this; the server only decodes. */
export function encodeRequestHeader(header: RequestHeader): Buffer {
  const target = Buffer.alloc(REQUEST_HEADER_SIZE_BYTES);
  target.writeUInt32BE(header.magic >>> 0, 0);
  target.writeUInt16BE(header.flags, 4);
  target.writeUInt16BE(header.type, 6);
  writeCookie(target, { positionBytes: 8, cookie: header });
  writeU64(target, { positionBytes: 16, value: header.offsetBytes });
  target.writeUInt32BE(header.lengthBytes >>> 0, 24);
  return target;
}

export function encodeSimpleReply(cookie: Cookie, errno: number): Buffer {
  const target = Buffer.allocUnsafe(SIMPLE_REPLY_SIZE_BYTES);
  target.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  target.writeUInt32BE(errno, 4);
  writeCookie(target, { positionBytes: 8, cookie });
  return target;
}

/** The header of a READ's single OFFSET_DATA chunk (flag DONE); the data follows it. */
export function encodeReadChunkHeader(
  cookie: Cookie,
  options: { offsetBytes: number; dataLengthBytes: number },
): Buffer {
  assert(options.dataLengthBytes > 0 && options.dataLengthBytes <= TWO_TO_THE_32 - 1 - 8);
  const target = Buffer.allocUnsafe(READ_CHUNK_HEADER_SIZE_BYTES);
  writeStructuredHeader(target, cookie, {
    flags: REPLY_FLAG_DONE,
    type: ReplyType.OFFSET_DATA,
    payloadLengthBytes: 8 + options.dataLengthBytes,
  });
  writeU64(target, { positionBytes: STRUCTURED_HEADER_SIZE_BYTES, value: options.offsetBytes });
  return target;
}

/** NBD_REPLY_TYPE_NONE with DONE: success with no content (a zero-length READ). */
export function encodeNoneChunk(cookie: Cookie): Buffer {
  const target = Buffer.allocUnsafe(STRUCTURED_HEADER_SIZE_BYTES);
  writeStructuredHeader(target, cookie, { flags: REPLY_FLAG_DONE, type: ReplyType.NONE, payloadLengthBytes: 0 });
  return target;
}

/** NBD_REPLY_TYPE_ERROR with DONE: u32 error, u16 message length, message. */
export function encodeErrorChunk(cookie: Cookie, options: { errno: number; message: string }): Buffer {
  assert(options.errno !== 0);
  let messageBytes = Buffer.from(options.message, 'utf8');
  if (messageBytes.length > ERROR_MESSAGE_MAX_BYTES) messageBytes = messageBytes.subarray(0, ERROR_MESSAGE_MAX_BYTES);
  const payloadLengthBytes = 6 + messageBytes.length;
  const target = Buffer.allocUnsafe(STRUCTURED_HEADER_SIZE_BYTES + payloadLengthBytes);
  writeStructuredHeader(target, cookie, { flags: REPLY_FLAG_DONE, type: ReplyType.ERROR, payloadLengthBytes });
  target.writeUInt32BE(options.errno, STRUCTURED_HEADER_SIZE_BYTES);
  target.writeUInt16BE(messageBytes.length, STRUCTURED_HEADER_SIZE_BYTES + 4);
  messageBytes.copy(target, STRUCTURED_HEADER_SIZE_BYTES + 6);
  return target;
}

export interface BlockDescriptor {
  /** u32, nonzero. */
  lengthBytes: number;
  statusFlags: number;
}

/** NBD_REPLY_TYPE_BLOCK_STATUS with DONE: u32 context id, then (u32 length, u32 flags)... */
export function encodeBlockStatusChunk(
  cookie: Cookie,
  options: { contextId: number; descriptors: readonly BlockDescriptor[] },
): Buffer {
  assert(options.descriptors.length > 0);
  const payloadLengthBytes = 4 + 8 * options.descriptors.length;
  const target = Buffer.allocUnsafe(STRUCTURED_HEADER_SIZE_BYTES + payloadLengthBytes);
  writeStructuredHeader(target, cookie, { flags: REPLY_FLAG_DONE, type: ReplyType.BLOCK_STATUS, payloadLengthBytes });
  target.writeUInt32BE(options.contextId, STRUCTURED_HEADER_SIZE_BYTES);
  let positionBytes = STRUCTURED_HEADER_SIZE_BYTES + 4;
  for (const descriptor of options.descriptors) {
    assert(descriptor.lengthBytes > 0 && descriptor.lengthBytes < TWO_TO_THE_32);
    target.writeUInt32BE(descriptor.lengthBytes, positionBytes);
    target.writeUInt32BE(descriptor.statusFlags, positionBytes + 4);
    positionBytes += 8;
  }
  return target;
}

function writeStructuredHeader(
  target: Buffer,
  cookie: Cookie,
  chunk: { flags: number; type: number; payloadLengthBytes: number },
): void {
  target.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  target.writeUInt16BE(chunk.flags, 4);
  target.writeUInt16BE(chunk.type, 6);
  writeCookie(target, { positionBytes: 8, cookie });
  target.writeUInt32BE(chunk.payloadLengthBytes, 16);
}

function writeCookie(target: Buffer, field: { positionBytes: number; cookie: Cookie }): void {
  target.writeUInt32BE(field.cookie.cookieHigh, field.positionBytes);
  target.writeUInt32BE(field.cookie.cookieLow, field.positionBytes + 4);
}

function writeU64(target: Buffer, field: { positionBytes: number; value: number }): void {
  const { positionBytes, value } = field;
  assert(Number.isSafeInteger(value) && value >= 0);
  target.writeUInt32BE(Math.floor(value / TWO_TO_THE_32), positionBytes);
  target.writeUInt32BE(value >>> 0, positionBytes + 4);
}
