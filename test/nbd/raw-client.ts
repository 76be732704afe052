/**
 * A deliberately low-level NBD client for protocol tests: it sends exactly the bytes a
 * test asks for (valid or not) and reads replies byte for byte.
 */
import net from 'node:net';
import {
  CLIENT_FLAG_FIXED_NEWSTYLE,
  CLIENT_FLAG_NO_ZEROES,
  IHAVEOPT_MAGIC,
  Option,
  OptionReply,
  OPTION_REPLY_MAGIC,
  REQUEST_MAGIC,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from '../../nbd/constants.js';

export const DEFAULT_CLIENT_FLAGS = CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES;

export interface OptionReplyMessage {
  option: number;
  replyType: number;
  data: Buffer;
}

export interface SimpleReplyMessage {
  kind: 'simple';
  errno: number;
  cookie: bigint;
  data: Buffer;
}

export interface StructuredChunkMessage {
  kind: 'structured';
  flags: number;
  type: number;
  cookie: bigint;
  payload: Buffer;
}

export interface RequestFields {
  type: number;
  flags?: number;
  cookie?: bigint;
  offsetBytes?: bigint | number;
  lengthBytes?: number;
  payload?: Buffer;
  magic?: number;
}

export class RawClient {
  readonly socket: net.Socket;
  #buffered: Buffer = Buffer.alloc(0);
  #waiter: (() => void) | null = null;
  #ended = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      this.#wake();
    });
    socket.on('end', () => {
      this.#ended = true;
      socket.end(); // as real clients do: the server closed, so close too
      this.#wake();
    });
    socket.on('error', () => {
      this.#ended = true;
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(path: string): Promise<RawClient> {
    const socket = net.connect({ path, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects, checks the greeting, sends client flags; ready for options. */
  static async negotiate(path: string, clientFlags = DEFAULT_CLIENT_FLAGS): Promise<RawClient> {
    const client = await RawClient.connect(path);
    const greeting = await client.read(18);
    if (greeting.readBigUInt64BE(8) !== IHAVEOPT_MAGIC) throw new Error('not a newstyle greeting');
    client.write(u32(clientFlags));
    return client;
  }

  /** Negotiates up to transmission with GO (optionally structured replies and base:allocation). */
  static async open(path: string, options: { exportName?: string; structured?: boolean; blockStatus?: boolean } = {}): Promise<RawClient> {
    const client = await RawClient.negotiate(path);
    const exportName = options.exportName ?? '';
    if (options.structured === true || options.blockStatus === true) {
      const reply = await client.option(Option.STRUCTURED_REPLY, Buffer.alloc(0));
      if (reply.replyType !== OptionReply.ACK) throw new Error('structured replies refused');
    }
    if (options.blockStatus === true) {
      const replies = await client.optionUntilFinal(Option.SET_META_CONTEXT, metaContextData(exportName, ['base:allocation']));
      if (replies.at(-1)?.replyType !== OptionReply.ACK || replies.length !== 2) throw new Error('base:allocation refused');
    }
    const replies = await client.optionUntilFinal(Option.GO, infoRequestData(exportName, []));
    if (replies.at(-1)?.replyType !== OptionReply.ACK) throw new Error(`GO refused: 0x${replies.at(-1)?.replyType.toString(16)}`);
    return client;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Exactly `lengthBytes` bytes; rejects if the server closes first. */
  async read(lengthBytes: number): Promise<Buffer> {
    while (this.#buffered.length < lengthBytes) {
      if (this.#ended) throw new Error(`connection closed with ${this.#buffered.length} of ${lengthBytes} bytes`);
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
    const result = this.#buffered.subarray(0, lengthBytes);
    this.#buffered = this.#buffered.subarray(lengthBytes);
    return result;
  }

  /** True if the server closes the connection (EOF or reset) before sending anything more. */
  async closesWithoutData(): Promise<boolean> {
    while (!this.#ended && this.#buffered.length === 0) await new Promise<void>((resolve) => (this.#waiter = resolve));
    return this.#buffered.length === 0;
  }

  sendOption(option: number, data: Buffer): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT_MAGIC, 0);
    header.writeUInt32BE(option >>> 0, 8);
    header.writeUInt32BE(data.length, 12);
    this.write(Buffer.concat([header, data]));
  }

  async readOptionReply(): Promise<OptionReplyMessage> {
    const header = await this.read(20);
    if (header.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new Error('bad option reply magic');
    const lengthBytes = header.readUInt32BE(16);
    return { option: header.readUInt32BE(8), replyType: header.readUInt32BE(12), data: await this.read(lengthBytes) };
  }

  async option(option: number, data: Buffer): Promise<OptionReplyMessage> {
    this.sendOption(option, data);
    return this.readOptionReply();
  }

  /** Sends an option and reads replies up to the final one (ACK or an error). */
  async optionUntilFinal(option: number, data: Buffer): Promise<OptionReplyMessage[]> {
    this.sendOption(option, data);
    const replies: OptionReplyMessage[] = [];
    for (;;) {
      const reply = await this.readOptionReply();
      replies.push(reply);
      if (reply.replyType === OptionReply.ACK || reply.replyType >= 0x80000000) return replies;
    }
  }

  sendRequest(fields: RequestFields): void {
    const header = Buffer.alloc(28);
    header.writeUInt32BE((fields.magic ?? REQUEST_MAGIC) >>> 0, 0);
    header.writeUInt16BE(fields.flags ?? 0, 4);
    header.writeUInt16BE(fields.type, 6);
    header.writeBigUInt64BE(fields.cookie ?? 1n, 8);
    header.writeBigUInt64BE(BigInt(fields.offsetBytes ?? 0), 16);
    header.writeUInt32BE(fields.lengthBytes ?? fields.payload?.length ?? 0, 24);
    this.write(fields.payload === undefined ? header : Buffer.concat([header, fields.payload]));
  }

  /** A simple reply; `readLengthBytes` of data follow it when it answers a successful READ. */
  async readSimpleReply(readLengthBytes = 0): Promise<SimpleReplyMessage> {
    const header = await this.read(16);
    if (header.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new Error(`bad simple reply magic 0x${header.readUInt32BE(0).toString(16)}`);
    const errno = header.readUInt32BE(4);
    const data = errno === 0 && readLengthBytes > 0 ? await this.read(readLengthBytes) : Buffer.alloc(0);
    return { kind: 'simple', errno, cookie: header.readBigUInt64BE(8), data };
  }

  /** A simple reply or a structured chunk, told apart by magic. */
  async readAnyReply(readLengthBytes = 0): Promise<SimpleReplyMessage | StructuredChunkMessage> {
    const magic = (await this.peek(4)).readUInt32BE(0);
    if (magic === SIMPLE_REPLY_MAGIC) return this.readSimpleReply(readLengthBytes);
    if (magic !== STRUCTURED_REPLY_MAGIC) throw new Error(`bad reply magic 0x${magic.toString(16)}`);
    const header = await this.read(20);
    return {
      kind: 'structured',
      flags: header.readUInt16BE(4),
      type: header.readUInt16BE(6),
      cookie: header.readBigUInt64BE(8),
      payload: await this.read(header.readUInt32BE(16)),
    };
  }

  async peek(lengthBytes: number): Promise<Buffer> {
    const bytes = await this.read(lengthBytes);
    this.#buffered = Buffer.concat([bytes, this.#buffered]);
    return bytes;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }
}

export function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0, 0);
  return bytes;
}

/** NBD_OPT_INFO / NBD_OPT_GO data. */
export function infoRequestData(exportName: string, infoTypes: number[]): Buffer {
  const name = Buffer.from(exportName, 'utf8');
  const data = Buffer.alloc(4 + name.length + 2 + 2 * infoTypes.length);
  data.writeUInt32BE(name.length, 0);
  name.copy(data, 4);
  data.writeUInt16BE(infoTypes.length, 4 + name.length);
  infoTypes.forEach((infoType, index) => data.writeUInt16BE(infoType, 4 + name.length + 2 + 2 * index));
  return data;
}

/** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data. */
export function metaContextData(exportName: string, queries: string[]): Buffer {
  const parts = [u32(Buffer.byteLength(exportName)), Buffer.from(exportName), u32(queries.length)];
  for (const query of queries) parts.push(u32(Buffer.byteLength(query)), Buffer.from(query));
  return Buffer.concat(parts);
}
