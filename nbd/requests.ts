/**
 * One transmission-phase request: is it valid (proto.md "Request types", "Error values",
 * "Block size constraints"), and what does the device answer. A request never throws:
 * every failure becomes an error reply.
 */
import type { BlockDevice, BlockStatusExtent } from './block-device.js';
import { Command, CommandFlag, commandName, NbdErrno, STATE_HOLE, STATE_ZERO } from './constants.js';
import { describeError, nbdErrnoForDeviceError } from './errors.js';
import { BLOCK_SIZE_MIN_BYTES, BLOCK_STATUS_EXTENTS_MAX, REQUEST_DATA_MAX_BYTES } from './limits.js';
import type { BufferPool } from './buffer-pool.js';
import type { Logger } from './logger.js';
import {
  encodeBlockStatusChunk,
  encodeErrorChunk,
  encodeNoneChunk,
  encodeReadChunkHeader,
  encodeSimpleReply,
  type BlockDescriptor,
  type Cookie,
  type RequestHeader,
} from './transmission-codec.js';

/** What was negotiated for this connection; fixed for the transmission phase. */
export interface SessionFeatures {
  structuredReplies: boolean;
  baseAllocationContextId: number | null;
  readOnly: boolean;
  canZeroFast: boolean;
}

export interface RequestError {
  errno: number;
  message: string;
}

const KNOWN_FLAGS =
  CommandFlag.FUA | CommandFlag.NO_HOLE | CommandFlag.DF | CommandFlag.REQ_ONE | CommandFlag.FAST_ZERO;

/** Null when the device may be asked; else the error to reply (DISC is handled before). */
export function validateRequest(
  header: RequestHeader,
  context: { features: SessionFeatures; sizeBytes: number },
): RequestError | null {
  const { type, offsetBytes, lengthBytes } = header;
  const { features } = context;
  if (type > Command.BLOCK_STATUS) return invalid(`unknown command ${type}`);
  const flagError = validateFlags(header, features);
  if (flagError !== null) return flagError;
  const writes = type === Command.WRITE || type === Command.TRIM || type === Command.WRITE_ZEROES;
  if (writes && features.readOnly) return { errno: NbdErrno.EPERM, message: 'the export is read-only' };
  if (type === Command.FLUSH) {
    return offsetBytes === 0 && lengthBytes === 0 ? null : invalid('FLUSH needs offset and length 0');
  }
  if (type === Command.BLOCK_STATUS) {
    if (features.baseAllocationContextId === null) return invalid('no meta context was negotiated');
    if (lengthBytes === 0) return invalid('BLOCK_STATUS of length 0');
  }
  if (offsetBytes % BLOCK_SIZE_MIN_BYTES !== 0 || lengthBytes % BLOCK_SIZE_MIN_BYTES !== 0) {
    return invalid(`offset ${offsetBytes} and length ${lengthBytes} must be multiples of ${BLOCK_SIZE_MIN_BYTES}`);
  }
  if ((type === Command.READ || type === Command.WRITE) && lengthBytes > REQUEST_DATA_MAX_BYTES) {
    return {
      errno: NbdErrno.EOVERFLOW,
      message: `length ${lengthBytes} is over the maximum of ${REQUEST_DATA_MAX_BYTES} bytes`,
    };
  }
  if (offsetBytes + lengthBytes > context.sizeBytes) {
    const errno = type === Command.WRITE || type === Command.WRITE_ZEROES ? NbdErrno.ENOSPC : NbdErrno.EINVAL;
    return { errno, message: `offset ${offsetBytes} + length ${lengthBytes} is past the end (${context.sizeBytes})` };
  }
  return null;
}

function validateFlags(header: RequestHeader, features: SessionFeatures): RequestError | null {
  const { type, flags } = header;
  if ((flags & ~KNOWN_FLAGS) !== 0) return invalid(`unknown command flags 0x${flags.toString(16)}`);
  // FUA is accepted on every command (proto.md: clients set it on non-writes too).
  if (flags & (CommandFlag.NO_HOLE | CommandFlag.FAST_ZERO) && type !== Command.WRITE_ZEROES) {
    return invalid('NO_HOLE and FAST_ZERO apply to WRITE_ZEROES only');
  }
  if (flags & CommandFlag.FAST_ZERO && !(features.canZeroFast && !features.readOnly)) {
    return invalid('FAST_ZERO was not advertised');
  }
  if (flags & CommandFlag.DF && !(type === Command.READ && features.structuredReplies)) {
    return invalid('DF applies to READ with structured replies only');
  }
  if (flags & CommandFlag.REQ_ONE && type !== Command.BLOCK_STATUS) {
    return invalid('REQ_ONE applies to BLOCK_STATUS only');
  }
  return null;
}

function invalid(message: string): RequestError {
  return { errno: NbdErrno.EINVAL, message };
}

/** The reply to a failed request: an error chunk once structured replies are on. */
export function encodeErrorReply(cookie: Cookie, error: RequestError & { structuredReplies: boolean }): Buffer {
  return error.structuredReplies ? encodeErrorChunk(cookie, error) : encodeSimpleReply(cookie, error.errno);
}

export interface RequestContext {
  device: BlockDevice;
  features: SessionFeatures;
  logger: Logger;
  pool: BufferPool;
}

/** The fields of a request worth a log line. */
export function describeRequest(header: RequestHeader): Record<string, unknown> {
  return { command: commandName(header.type), offsetBytes: header.offsetBytes, lengthBytes: header.lengthBytes };
}

interface ReadData {
  data: Buffer;
  /** `data` again if it came from the pool, to be given back once written. */
  pooled: Buffer | null;
}

/** A validated request, with its payload if it is a WRITE. */
export interface DeviceRequest {
  header: RequestHeader;
  payload: Buffer | null;
}

/** Buffers to write back to back; `pooled` goes back to the pool once written. */
export interface Reply {
  buffers: Buffer[];
  pooled: Buffer | null;
}

/**
 * Runs a validated request and returns its reply. Never rejects. proto.md "Simple
 * replies": a READ error after a success header is unrecoverable, so the data is fetched
 * before any header is built.
 */
export async function executeRequest(context: RequestContext, request: DeviceRequest): Promise<Reply> {
  const { header } = request;
  try {
    switch (header.type) {
      case Command.READ:
        return await executeRead(context, header);
      case Command.BLOCK_STATUS:
        return { buffers: await executeBlockStatus(context, header), pooled: null };
      default:
        await executeWithoutData(context, request);
        return { buffers: [encodeSimpleReply(header, NbdErrno.OK)], pooled: null };
    }
  } catch (error) {
    const errno = nbdErrnoForDeviceError(error, { fastZero: (header.flags & CommandFlag.FAST_ZERO) !== 0 });
    const message = describeError(error);
    const fields = { ...describeRequest(header), errno };
    if (errno === NbdErrno.EIO) context.logger.warn({ ...fields, err: message }, 'device request failed');
    else context.logger.debug({ ...fields, err: message }, 'device request refused');
    const structuredReplies = context.features.structuredReplies;
    return { buffers: [encodeErrorReply(header, { errno, message, structuredReplies })], pooled: null };
  }
}

async function executeRead(context: RequestContext, header: RequestHeader): Promise<Reply> {
  const { offsetBytes, lengthBytes } = header;
  const structured = context.features.structuredReplies;
  if (lengthBytes === 0) {
    return { buffers: [structured ? encodeNoneChunk(header) : encodeSimpleReply(header, NbdErrno.OK)], pooled: null };
  }
  const { data, pooled } = await readData(context, header);
  const replyHeader = structured
    ? encodeReadChunkHeader(header, { offsetBytes, dataLengthBytes: lengthBytes })
    : encodeSimpleReply(header, NbdErrno.OK);
  return { buffers: [replyHeader, data], pooled };
}

async function readData(context: RequestContext, header: RequestHeader): Promise<ReadData> {
  const { device, pool } = context;
  const { offsetBytes, lengthBytes } = header;
  if (device.readInto !== undefined) {
    const target = pool.acquire(lengthBytes);
    try {
      await device.readInto(offsetBytes, target);
    } catch (error) {
      pool.release(target);
      throw error;
    }
    return { data: target, pooled: target };
  }
  const data = await device.read(offsetBytes, lengthBytes);
  if (data.length !== lengthBytes) {
    throw new Error(`device read returned ${data.length} bytes, ${lengthBytes} were asked`);
  }
  const dataBuffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { data: dataBuffer, pooled: null };
}

async function executeWithoutData(context: RequestContext, request: DeviceRequest): Promise<void> {
  const { device } = context;
  const { header, payload } = request;
  const { offsetBytes, lengthBytes, flags } = header;
  const fua = (flags & CommandFlag.FUA) !== 0;
  switch (header.type) {
    case Command.WRITE:
      if (payload !== null && payload.length > 0) await device.write(offsetBytes, payload, { fua });
      return;
    case Command.FLUSH:
      await device.flush();
      return;
    case Command.TRIM:
      if (lengthBytes > 0) await device.trim(offsetBytes, lengthBytes, { fua });
      return;
    case Command.CACHE:
      if (lengthBytes > 0 && device.cache !== undefined) await device.cache(offsetBytes, lengthBytes);
      return;
    case Command.WRITE_ZEROES: {
      if (lengthBytes === 0) return;
      const noHole = (flags & CommandFlag.NO_HOLE) !== 0;
      const fastOnly = (flags & CommandFlag.FAST_ZERO) !== 0;
      await device.writeZeroes(offsetBytes, lengthBytes, fastOnly ? { fua, noHole, fastOnly } : { fua, noHole });
      return;
    }
    default:
      throw new Error(`command ${header.type} reached the device unvalidated`);
  }
}

async function executeBlockStatus(context: RequestContext, header: RequestHeader): Promise<Buffer[]> {
  const { device, features } = context;
  const contextId = features.baseAllocationContextId;
  if (contextId === null) throw new Error('BLOCK_STATUS reached the device without a meta context');
  const reqOne = (header.flags & CommandFlag.REQ_ONE) !== 0;
  let descriptors: BlockDescriptor[] = [];
  if (device.blockStatus !== undefined) {
    const extents = await device.blockStatus(header.offsetBytes, header.lengthBytes);
    descriptors = toDescriptors(extents, { lengthBytes: header.lengthBytes, reqOne });
    if (descriptors.length === 0) context.logger.warn({ extents: extents.length }, 'device block status unusable');
  }
  // proto.md: a server MAY always report status 0 (data) for any block.
  if (descriptors.length === 0) descriptors = [{ lengthBytes: header.lengthBytes, statusFlags: 0 }];
  return [encodeBlockStatusChunk(header, { contextId, descriptors })];
}

/**
 * Device extents as `base:allocation` descriptors: clipped to the request, runs of equal
 * status merged, whole 512-byte blocks only, one descriptor with REQ_ONE, bounded count.
 * Stops at the first extent that breaks the rules (the client asks again for the rest).
 */
export function toDescriptors(
  extents: readonly BlockStatusExtent[],
  options: { lengthBytes: number; reqOne: boolean },
): BlockDescriptor[] {
  const descriptors: BlockDescriptor[] = [];
  let remainingBytes = options.lengthBytes;
  for (const extent of extents) {
    if (remainingBytes === 0) break;
    const lengthBytes = Math.min(extent.lengthBytes, remainingBytes);
    if (!Number.isSafeInteger(lengthBytes) || lengthBytes <= 0 || lengthBytes % BLOCK_SIZE_MIN_BYTES !== 0) break;
    const statusFlags = (extent.hole ? STATE_HOLE : 0) | (extent.zero || extent.hole ? STATE_ZERO : 0);
    const previous = descriptors[descriptors.length - 1];
    if (previous !== undefined && previous.statusFlags === statusFlags) {
      previous.lengthBytes += lengthBytes;
    } else {
      if (descriptors.length === (options.reqOne ? 1 : BLOCK_STATUS_EXTENTS_MAX)) break;
      descriptors.push({ lengthBytes, statusFlags });
    }
    remainingBytes -= lengthBytes;
  }
  return descriptors;
}
