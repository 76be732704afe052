/**
 * Fuzzing the server with byte streams: random bytes, and valid sessions with mutations.
 * Every case is sent (in random pieces), the client half-closes, and the server must close
 * the connection by itself; between cases a separate, well-behaved connection must still
 * get its data back. Cases come from a seeded generator, so any failure replays.
 */
import net from 'node:net';
import { Command, CommandFlag, Info, Option } from '../../nbd/constants.js';
import { infoRequestData, metaContextData, RawClient, u32 } from './raw-client.js';

/** xorshift32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }

  /** An integer in [0, limit). */
  below(limit: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * limit);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  bytes(lengthBytes: number): Buffer {
    const bytes = Buffer.alloc(lengthBytes);
    for (let index = 0; index < lengthBytes; index++) bytes[index] = this.below(256);
    return bytes;
  }
}

export interface FuzzCase {
  kind: string;
  bytes: Buffer;
}

const EXPORT_NAME = 'disk';
const OPTION_MAGIC = Buffer.from('IHAVEOPT', 'latin1');

function option(code: number, data: Buffer): Buffer {
  return Buffer.concat([OPTION_MAGIC, u32(code), u32(data.length), data]);
}

function request(random: Random, options: { sizeBytes: number }): Buffer {
  const type = random.pick([...Object.values(Command), Command.WRITE, Command.READ, 8, 0x7777]);
  const flagChoices = [0, 0, 0, 0, ...Object.values(CommandFlag), 1 << 7, 0xffff];
  const offsetChoices = [0, 512, 4096, options.sizeBytes - 512, options.sizeBytes, options.sizeBytes + 4096, 1, 2 ** 40];
  const lengthChoices = [0, 512, 4096, 65536, 1000, 32 * 1024 * 1024 + 512, 0xfffffe00, 0xffffffff];
  const lengthBytes = random.below(4) === 0 ? random.pick(lengthChoices) : 512 * (1 + random.below(16));
  const header = Buffer.alloc(28);
  header.writeUInt32BE(0x25609513, 0);
  header.writeUInt16BE(random.pick(flagChoices), 4);
  header.writeUInt16BE(type, 6);
  header.writeUInt32BE(random.next(), 8);
  header.writeUInt32BE(random.next(), 12);
  const offsetBytes = random.below(3) === 0 ? random.pick(offsetChoices) : 512 * random.below(options.sizeBytes / 512);
  header.writeBigUInt64BE(BigInt(offsetBytes), 16);
  header.writeUInt32BE(lengthBytes >>> 0, 24);
  if (type !== Command.WRITE) return header;
  // Usually the whole payload; sometimes a short one, which the next header's bytes complete.
  const payloadBytes = lengthBytes <= 65536 && random.below(8) !== 0 ? lengthBytes : random.below(2048);
  return Buffer.concat([header, random.bytes(Math.min(payloadBytes, 8192)), Buffer.alloc(Math.max(0, payloadBytes - 8192))]);
}

function negotiation(random: Random): Buffer[] {
  const parts: Buffer[] = [u32(random.below(10) === 0 ? random.pick([0, 1, 2, 4, 0xffffffff]) : 3)];
  const steps = random.below(5);
  for (let step = 0; step < steps; step++) {
    parts.push(
      random.pick([
        option(Option.STRUCTURED_REPLY, Buffer.alloc(0)),
        option(Option.LIST, Buffer.alloc(0)),
        option(Option.INFO, infoRequestData(random.pick([EXPORT_NAME, '', 'other']), [Info.BLOCK_SIZE, Info.NAME])),
        option(Option.SET_META_CONTEXT, metaContextData(EXPORT_NAME, ['base:allocation'])),
        option(Option.LIST_META_CONTEXT, metaContextData('', [])),
        option(Option.STARTTLS, Buffer.alloc(0)),
        option(random.next(), random.bytes(random.below(64))),
      ]),
    );
  }
  if (random.below(12) === 0) parts.push(option(Option.ABORT, Buffer.alloc(0)));
  const exportName = option(Option.EXPORT_NAME, Buffer.from(EXPORT_NAME));
  const go = option(Option.GO, infoRequestData(EXPORT_NAME, [Info.BLOCK_SIZE]));
  parts.push(random.below(4) === 0 ? exportName : go);
  return parts;
}

function mutate(random: Random, bytes: Buffer): Buffer {
  let mutated = Buffer.from(bytes);
  const mutations = 1 + random.below(4);
  for (let count = 0; count < mutations && mutated.length > 0; count++) {
    const position = random.below(mutated.length);
    switch (random.below(5)) {
      case 0:
        mutated[position] = (mutated[position] ?? 0) ^ (1 << random.below(8));
        break;
      case 1:
        mutated[position] = random.pick([0, 0xff, 0x80, 0x7f]);
        break;
      case 2:
        mutated = mutated.subarray(0, position);
        break;
      case 3:
        mutated = Buffer.concat([mutated.subarray(0, position), random.bytes(1 + random.below(32)), mutated.subarray(position)]);
        break;
      default: {
        const end = Math.min(mutated.length, position + 1 + random.below(64));
        mutated = Buffer.concat([mutated.subarray(0, end), mutated.subarray(position, end), mutated.subarray(end)]);
      }
    }
  }
  return mutated;
}

export function generateCase(random: Random, options: { sizeBytes: number }): FuzzCase {
  const kind = random.pick(['random', 'random-after-negotiation', 'mutated-negotiation', 'mutated-requests', 'valid']);
  const requests = (): Buffer[] => Array.from({ length: 1 + random.below(12) }, () => request(random, options));
  switch (kind) {
    case 'random':
      return { kind, bytes: random.bytes(random.below(600)) };
    case 'random-after-negotiation':
      return { kind, bytes: Buffer.concat([...negotiation(random), random.bytes(random.below(600))]) };
    case 'mutated-negotiation':
      return { kind, bytes: mutate(random, Buffer.concat([...negotiation(random), ...requests()])) };
    case 'mutated-requests': {
      const prefix = Buffer.concat(negotiation(random));
      return { kind, bytes: Buffer.concat([prefix, mutate(random, Buffer.concat(requests()))]) };
    }
    default:
      return { kind, bytes: Buffer.concat([...negotiation(random), ...requests()]) };
  }
}

const CASE_TIMEOUT_MS = 15_000;

/** Sends one case in random pieces, half-closes, reads everything; resolves once the server closed. */
export async function sendCase(options: { socketPath: string; fuzzCase: FuzzCase; random: Random }): Promise<void> {
  const { socketPath, fuzzCase, random } = options;
  const socket = net.connect({ path: socketPath, allowHalfOpen: true });
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close a ${fuzzCase.kind} connection within ${CASE_TIMEOUT_MS} ms`));
    }, CASE_TIMEOUT_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.on('error', () => {}); // resets are an allowed answer to garbage
  socket.on('data', () => {}); // drain replies so the server is never blocked on us
  socket.on('end', () => socket.end());
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('error', resolve));
  let positionBytes = 0;
  while (positionBytes < fuzzCase.bytes.length && !socket.destroyed) {
    const pieceBytes = 1 + random.below(Math.max(1, fuzzCase.bytes.length - positionBytes));
    socket.write(fuzzCase.bytes.subarray(positionBytes, positionBytes + pieceBytes));
    positionBytes += pieceBytes;
    if (random.below(3) === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  if (!socket.destroyed) socket.end();
  await closed;
}

/** A well-behaved session writes and reads back a pattern; throws if the server misbehaves. */
export async function checkServerHealthy(socketPath: string, offsetBytes: number): Promise<void> {
  const client = await RawClient.open(socketPath, { exportName: EXPORT_NAME, structured: true });
  try {
    const data = Buffer.alloc(4096, offsetBytes & 0xff);
    client.sendRequest({ type: Command.WRITE, cookie: 1n, offsetBytes, payload: data });
    const written = await client.readAnyReply();
    if (written.kind !== 'simple' || written.errno !== 0) throw new Error('health check write failed');
    client.sendRequest({ type: Command.READ, cookie: 2n, offsetBytes, lengthBytes: 4096 });
    const read = await client.readAnyReply();
    if (read.kind !== 'structured' || !read.payload.subarray(8).equals(data)) throw new Error('health check read back wrong data');
  } finally {
    client.destroy();
  }
}

export interface FuzzRunOptions {
  socketPath: string;
  sizeBytes: number;
  seed: number;
  cases: number;
  concurrency: number;
  /** A health check runs after every this many cases (and at the end). */
  checkEvery: number;
  /** Where health checks write; fuzz cases may scribble anywhere, checks write then read at once. */
  checkOffsetBytes: number;
  onProgress?: (done: number) => void;
}

export interface FuzzRunResult {
  casesRun: number;
  byKind: Record<string, number>;
}

export async function runFuzz(options: FuzzRunOptions): Promise<FuzzRunResult> {
  const random = new Random(options.seed);
  const byKind: Record<string, number> = {};
  let casesRun = 0;
  while (casesRun < options.cases) {
    const batchSize = Math.min(options.concurrency, options.cases - casesRun);
    const batch = Array.from({ length: batchSize }, () => generateCase(random, { sizeBytes: options.sizeBytes }));
    const socketPath = options.socketPath;
    await Promise.all(batch.map((fuzzCase) => sendCase({ socketPath, fuzzCase, random: new Random(random.next()) })));
    for (const fuzzCase of batch) byKind[fuzzCase.kind] = (byKind[fuzzCase.kind] ?? 0) + 1;
    const before = casesRun;
    casesRun += batchSize;
    if (Math.floor(casesRun / options.checkEvery) > Math.floor(before / options.checkEvery) || casesRun === options.cases) {
      await checkServerHealthy(options.socketPath, options.checkOffsetBytes);
      options.onProgress?.(casesRun);
    }
  }
  return { casesRun, byKind };
}
