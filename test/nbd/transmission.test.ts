import test from 'ava';
import type { BlockDevice } from '../../nbd/block-device.js';
import { Command, CommandFlag, NbdErrno, REPLY_FLAG_DONE, ReplyType, STATE_HOLE, STATE_ZERO } from '../../nbd/constants.js';
import { REQUEST_DATA_MAX_BYTES, WRITE_SKIP_MAX_BYTES } from '../../nbd/limits.js';
import { deviceError, gate, HookedDevice, startTestServer, type TestServer } from './helpers.js';
import { RawClient, type RequestFields } from './raw-client.js';

const SIZE_BYTES = 8 * 1024 * 1024;

interface Session {
  client: RawClient;
  server: TestServer;
}

async function withSession(
  run: (session: Session) => Promise<void>,
  options: { structured?: boolean; blockStatus?: boolean; device?: BlockDevice; readOnly?: boolean } = {},
): Promise<void> {
  const server = await startTestServer({
    device: options.device ?? new HookedDevice({ sizeBytes: SIZE_BYTES }),
    ...(options.readOnly === undefined ? {} : { readOnly: options.readOnly }),
  });
  const client = await RawClient.open(server.socketPath, {
    ...(options.structured === undefined ? {} : { structured: options.structured }),
    ...(options.blockStatus === undefined ? {} : { blockStatus: options.blockStatus }),
  });
  try {
    await run({ client, server });
  } finally {
    client.destroy();
    await server.close();
  }
}

function pattern(lengthBytes: number, seed: number): Buffer {
  const bytes = Buffer.alloc(lengthBytes);
  for (let index = 0; index < lengthBytes; index++) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}

async function writeOk(client: RawClient, write: { offsetBytes: number; data: Buffer; cookie?: bigint }): Promise<void> {
  const { offsetBytes, data, cookie = 1n } = write;
  client.sendRequest({ type: Command.WRITE, cookie, offsetBytes, payload: data });
  const reply = await client.readSimpleReply();
  if (reply.errno !== 0 || reply.cookie !== cookie) throw new Error(`write failed: errno ${reply.errno}`);
}

/** Sends one request and returns the errno of its simple reply (reading READ data if asked). */
async function readErrno(client: RawClient, fields: RequestFields & { readLengthBytes?: number }): Promise<number> {
  client.sendRequest(fields);
  const reply = await client.readSimpleReply(fields.readLengthBytes ?? 0);
  return reply.errno;
}

test('a written pattern reads back, and the cookie is echoed byte for byte', async (t) => {
  await withSession(async ({ client }) => {
    const data = pattern(64 * 1024, 3);
    await writeOk(client, { offsetBytes: 4096, data });
    const cookie = 0x0102030405060708n;
    client.sendRequest({ type: Command.READ, cookie, offsetBytes: 4096, lengthBytes: data.length });
    const raw = await client.peek(16);
    t.is(raw.subarray(8, 16).toString('hex'), '0102030405060708');
    const reply = await client.readSimpleReply(data.length);
    t.is(reply.errno, 0);
    t.true(reply.data.equals(data));
  });
});

test('a WRITE past the end gets ENOSPC, its payload is consumed, and the next request works', async (t) => {
  await withSession(async ({ client }) => {
    const errno = await readErrno(client, { type: Command.WRITE, offsetBytes: SIZE_BYTES - 512, payload: pattern(4096, 1) });
    t.is(errno, NbdErrno.ENOSPC);
    await writeOk(client, { offsetBytes: 0, data: pattern(512, 9), cookie: 2n });
    client.sendRequest({ type: Command.READ, cookie: 3n, offsetBytes: 0, lengthBytes: 512 });
    t.true((await client.readSimpleReply(512)).data.equals(pattern(512, 9)));
  });
});

test('requests not aligned to 512 bytes get EINVAL, and a rejected WRITE payload is skipped', async (t) => {
  await withSession(async ({ client }) => {
    t.is(await readErrno(client, { type: Command.READ, offsetBytes: 100, lengthBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.READ, offsetBytes: 0, lengthBytes: 100 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.WRITE, offsetBytes: 0, payload: pattern(1000, 2) }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.TRIM, offsetBytes: 512, lengthBytes: 10 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.WRITE_ZEROES, offsetBytes: 1, lengthBytes: 512 }), NbdErrno.EINVAL);
    await writeOk(client, { offsetBytes: 512, data: pattern(512, 4) });
  });
});

test('requests at any 512-byte alignment reach the device, which does read-modify-write', async (t) => {
  await withSession(async ({ client }) => {
    await writeOk(client, { offsetBytes: 0, data: pattern(8192, 5) });
    await writeOk(client, { offsetBytes: 1536, data: pattern(1024, 6) });
    client.sendRequest({ type: Command.READ, offsetBytes: 0, lengthBytes: 8192 });
    const expected = pattern(8192, 5);
    pattern(1024, 6).copy(expected, 1536);
    t.true((await client.readSimpleReply(8192)).data.equals(expected));
  });
});

test('READ, TRIM, CACHE and BLOCK_STATUS past the end get EINVAL; WRITE_ZEROES gets ENOSPC', async (t) => {
  await withSession(async ({ client }) => {
    t.is(await readErrno(client, { type: Command.READ, offsetBytes: SIZE_BYTES, lengthBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.READ, offsetBytes: 2n ** 64n - 512n, lengthBytes: 1024 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.TRIM, offsetBytes: SIZE_BYTES - 512, lengthBytes: 1024 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.CACHE, offsetBytes: SIZE_BYTES, lengthBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.WRITE_ZEROES, offsetBytes: SIZE_BYTES, lengthBytes: 512 }), NbdErrno.ENOSPC);
    t.is(await readErrno(client, { type: Command.WRITE, offsetBytes: 2n ** 63n, payload: pattern(512, 0) }), NbdErrno.ENOSPC);
  });
});

test('unknown commands, unknown flags and misplaced flags get EINVAL', async (t) => {
  await withSession(async ({ client }) => {
    t.is(await readErrno(client, { type: 8, offsetBytes: 0, lengthBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: 0xffff }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.READ, flags: 1 << 9, lengthBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.READ, flags: CommandFlag.NO_HOLE, lengthBytes: 512 }), NbdErrno.EINVAL);
    const dfWithoutStructured = await readErrno(client, { type: Command.READ, flags: CommandFlag.DF, lengthBytes: 512 });
    t.is(dfWithoutStructured, NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.TRIM, flags: CommandFlag.REQ_ONE, lengthBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.FLUSH, offsetBytes: 512 }), NbdErrno.EINVAL);
    t.is(await readErrno(client, { type: Command.BLOCK_STATUS, lengthBytes: 512 }), NbdErrno.EINVAL, 'no meta context');
    await writeOk(client, { offsetBytes: 0, data: pattern(512, 1) });
  });
});

test('FUA is accepted on every command and reaches the device on writes', async (t) => {
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES });
  await withSession(
    async ({ client }) => {
      client.sendRequest({ type: Command.WRITE, flags: CommandFlag.FUA, payload: pattern(512, 1) });
      t.is((await client.readSimpleReply()).errno, 0);
      for (const type of [Command.READ, Command.FLUSH, Command.TRIM, Command.CACHE, Command.WRITE_ZEROES]) {
        const lengthBytes = type === Command.FLUSH ? 0 : 512;
        t.is(await readErrno(client, { type, flags: CommandFlag.FUA, lengthBytes, readLengthBytes: type === Command.READ ? 512 : 0 }), 0);
      }
      t.true(device.calls.includes('write-fua'));
    },
    { device },
  );
});

test('zero-length requests are answered and never disconnect', async (t) => {
  await withSession(async ({ client }) => {
    for (const type of [Command.READ, Command.WRITE, Command.TRIM, Command.WRITE_ZEROES, Command.CACHE]) {
      t.is(await readErrno(client, { type, offsetBytes: 4096, lengthBytes: 0 }), 0);
    }
    await writeOk(client, { offsetBytes: 0, data: pattern(512, 1) });
  });
});

test('a READ or WRITE longer than 32 MiB gets EOVERFLOW and the WRITE payload is consumed', async (t) => {
  const device = new HookedDevice({ sizeBytes: 64 * 1024 * 1024 });
  await withSession(
    async ({ client }) => {
      const lengthBytes = REQUEST_DATA_MAX_BYTES + 512;
      t.is(await readErrno(client, { type: Command.READ, lengthBytes }), NbdErrno.EOVERFLOW);
      t.is(await readErrno(client, { type: Command.WRITE, payload: Buffer.alloc(lengthBytes, 1) }), NbdErrno.EOVERFLOW);
      await writeOk(client, { offsetBytes: 0, data: pattern(512, 1) });
      t.false(device.calls.includes('read'));
    },
    { device },
  );
});

test('TRIM and WRITE_ZEROES may be far larger than 32 MiB, up to the device end', async (t) => {
  const sizeBytes = 2 ** 32 + 2 ** 20;
  await withSession(
    async ({ client }) => {
      await writeOk(client, { offsetBytes: 2 ** 31, data: pattern(4096, 7) });
      t.is(await readErrno(client, { type: Command.TRIM, offsetBytes: 0, lengthBytes: 2 ** 32 - 512 }), 0);
      t.is(await readErrno(client, { type: Command.WRITE_ZEROES, offsetBytes: 512, lengthBytes: 2 ** 32 - 512 }), 0);
      client.sendRequest({ type: Command.READ, offsetBytes: 2 ** 31, lengthBytes: 4096 });
      t.true((await client.readSimpleReply(4096)).data.equals(Buffer.alloc(4096)));
    },
    { device: new HookedDevice({ sizeBytes }) },
  );
});

test('a WRITE announcing more than can be skipped closes that connection only', async (t) => {
  await withSession(async ({ client, server }) => {
    client.sendRequest({ type: Command.WRITE, lengthBytes: WRITE_SKIP_MAX_BYTES + 512 });
    t.true(await client.closesWithoutData());
    const other = await RawClient.open(server.socketPath);
    await writeOk(other, { offsetBytes: 0, data: pattern(512, 1) });
    other.destroy();
  });
});

test('a bad request magic closes that connection, is logged, and the server and other connections keep working', async (t) => {
  await withSession(async ({ client, server }) => {
    const other = await RawClient.open(server.socketPath);
    client.sendRequest({ type: Command.READ, lengthBytes: 512, magic: 0x12345678 });
    t.true(await client.closesWithoutData());
    await writeOk(other, { offsetBytes: 0, data: pattern(512, 2) });
    const third = await RawClient.open(server.socketPath);
    await writeOk(third, { offsetBytes: 512, data: pattern(512, 3) });
    t.true(server.logger.records.some((record) => record.level === 'warn' && String(record.object['reason']).includes('magic')));
    other.destroy();
    third.destroy();
  });
});

test('replies come back in completion order: a fast READ overtakes a slow one', async (t) => {
  const slowRead = gate();
  const device = new HookedDevice({
    sizeBytes: SIZE_BYTES,
    hooks: { beforeRead: (offsetBytes) => (offsetBytes === 0 ? slowRead.promise : undefined) },
  });
  await withSession(
    async ({ client }) => {
      await writeOk(client, { offsetBytes: 0, data: pattern(512, 1) });
      await writeOk(client, { offsetBytes: 4096, data: pattern(512, 2) });
      client.sendRequest({ type: Command.READ, cookie: 1n, offsetBytes: 0, lengthBytes: 512 });
      client.sendRequest({ type: Command.READ, cookie: 2n, offsetBytes: 4096, lengthBytes: 512 });
      const first = await client.readSimpleReply(512);
      slowRead.open();
      const second = await client.readSimpleReply(512);
      t.deepEqual([first.cookie, second.cookie], [2n, 1n]);
      t.true(first.data.equals(pattern(512, 2)));
      t.true(second.data.equals(pattern(512, 1)));
    },
    { device },
  );
});

test('a device that throws gets EIO (or its errno), and the connection stays usable', async (t) => {
  let failure: Error | null = deviceError('EBADF');
  const device = new HookedDevice({
    sizeBytes: SIZE_BYTES,
    hooks: {
      beforeWrite: () => {
        if (failure !== null) throw failure;
      },
      beforeRead: () => {
        if (failure !== null) throw failure;
      },
    },
  });
  await withSession(
    async ({ client }) => {
      t.is(await readErrno(client, { type: Command.WRITE, payload: pattern(512, 1) }), NbdErrno.EIO);
      t.is(await readErrno(client, { type: Command.READ, lengthBytes: 512 }), NbdErrno.EIO);
      failure = deviceError('ENOSPC');
      t.is(await readErrno(client, { type: Command.WRITE, payload: pattern(512, 1) }), NbdErrno.ENOSPC);
      failure = null;
      await writeOk(client, { offsetBytes: 0, data: pattern(512, 1) });
    },
    { device },
  );
});

test('a read-only export refuses WRITE, TRIM and WRITE_ZEROES with EPERM but reads and flushes', async (t) => {
  await withSession(
    async ({ client }) => {
      t.is(await readErrno(client, { type: Command.WRITE, payload: pattern(512, 1) }), NbdErrno.EPERM);
      t.is(await readErrno(client, { type: Command.TRIM, lengthBytes: 512 }), NbdErrno.EPERM);
      t.is(await readErrno(client, { type: Command.WRITE_ZEROES, lengthBytes: 512 }), NbdErrno.EPERM);
      t.is(await readErrno(client, { type: Command.FLUSH }), 0);
      t.is(await readErrno(client, { type: Command.READ, lengthBytes: 512, readLengthBytes: 512 }), 0);
    },
    { readOnly: true },
  );
});

test('with structured replies a READ is one OFFSET_DATA chunk marked DONE, errors are ERROR chunks', async (t) => {
  await withSession(
    async ({ client }) => {
      await writeOk(client, { offsetBytes: 8192, data: pattern(4096, 8) });
      client.sendRequest({ type: Command.READ, cookie: 5n, offsetBytes: 8192, lengthBytes: 4096, flags: CommandFlag.DF });
      const chunk = await client.readAnyReply();
      t.is(chunk.kind, 'structured');
      if (chunk.kind !== 'structured') return;
      t.is(chunk.type, ReplyType.OFFSET_DATA);
      t.is(chunk.flags, REPLY_FLAG_DONE);
      t.is(chunk.cookie, 5n);
      t.is(chunk.payload.readBigUInt64BE(0), 8192n);
      t.true(chunk.payload.subarray(8).equals(pattern(4096, 8)));

      client.sendRequest({ type: Command.READ, cookie: 6n, offsetBytes: SIZE_BYTES, lengthBytes: 512 });
      const error = await client.readAnyReply();
      t.true(error.kind === 'structured' && error.type === ReplyType.ERROR && error.flags === REPLY_FLAG_DONE);
      if (error.kind === 'structured') t.is(error.payload.readUInt32BE(0), NbdErrno.EINVAL);

      client.sendRequest({ type: Command.READ, cookie: 7n, offsetBytes: 0, lengthBytes: 0 });
      const empty = await client.readAnyReply();
      t.true(empty.kind === 'structured' && empty.type === ReplyType.NONE && empty.flags === REPLY_FLAG_DONE);
    },
    { structured: true },
  );
});

test('BLOCK_STATUS reports holes and data from the device, and REQ_ONE gets one descriptor', async (t) => {
  await withSession(
    async ({ client }) => {
      await writeOk(client, { offsetBytes: 128 * 1024, data: pattern(64 * 1024, 1) });
      const statusOf = async (flags: number): Promise<Array<[number, number]>> => {
        client.sendRequest({ type: Command.BLOCK_STATUS, flags, offsetBytes: 0, lengthBytes: 1024 * 1024 });
        const reply = await client.readAnyReply();
        if (reply.kind !== 'structured' || reply.type !== ReplyType.BLOCK_STATUS) throw new Error('no block status chunk');
        const descriptors: Array<[number, number]> = [];
        for (let position = 4; position < reply.payload.length; position += 8) {
          descriptors.push([reply.payload.readUInt32BE(position), reply.payload.readUInt32BE(position + 4)]);
        }
        return descriptors;
      };
      const hole = STATE_HOLE | STATE_ZERO;
      t.deepEqual(await statusOf(0), [
        [128 * 1024, hole],
        [64 * 1024, 0],
        [(1024 - 192) * 1024, hole],
      ]);
      t.deepEqual(await statusOf(CommandFlag.REQ_ONE), [[128 * 1024, hole]]);
      client.sendRequest({ type: Command.BLOCK_STATUS, offsetBytes: SIZE_BYTES - 512, lengthBytes: 1024 });
      const error = await client.readAnyReply();
      t.true(error.kind === 'structured' ? error.payload.readUInt32BE(0) === NbdErrno.EINVAL : error.errno === NbdErrno.EINVAL);
    },
    { blockStatus: true },
  );
});

test('FAST_ZERO reaches the device as fastOnly, and its ENOTSUP is passed on', async (t) => {
  const device = new HookedDevice({
    sizeBytes: SIZE_BYTES,
    hooks: {
      beforeWriteZeroes: (options) => {
        if (options.fastOnly === true && options.noHole) throw deviceError('ENOTSUP', 'cannot zero fast here');
      },
    },
  });
  await withSession(
    async ({ client }) => {
      t.is(await readErrno(client, { type: Command.WRITE_ZEROES, flags: CommandFlag.FAST_ZERO, lengthBytes: 4096 }), 0);
      const flags = CommandFlag.FAST_ZERO | CommandFlag.NO_HOLE;
      t.is(await readErrno(client, { type: Command.WRITE_ZEROES, flags, lengthBytes: 4096 }), NbdErrno.ENOTSUP);
    },
    { device },
  );
});

test('FAST_ZERO is refused with EINVAL by a server whose device cannot zero fast (it is not advertised)', async (t) => {
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES, canZeroFast: false });
  await withSession(
    async ({ client }) => {
      t.is(await readErrno(client, { type: Command.WRITE_ZEROES, flags: CommandFlag.FAST_ZERO, lengthBytes: 4096 }), NbdErrno.EINVAL);
      t.is(await readErrno(client, { type: Command.WRITE_ZEROES, lengthBytes: 4096 }), 0);
    },
    { device },
  );
});

test('DISC lets requests in flight finish, flushes, then closes the connection', async (t) => {
  const slowWrite = gate();
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES, hooks: { beforeWrite: () => slowWrite.promise } });
  await withSession(
    async ({ client }) => {
      client.sendRequest({ type: Command.WRITE, cookie: 9n, payload: pattern(4096, 2) });
      client.sendRequest({ type: Command.DISC });
      await new Promise((resolve) => setTimeout(resolve, 50));
      slowWrite.open();
      const reply = await client.readSimpleReply();
      t.is(reply.cookie, 9n);
      t.is(reply.errno, 0);
      await client.closed;
      t.deepEqual(device.calls, ['write', 'flush']);
    },
    { device },
  );
});

test('a device without readInto or blockStatus still serves reads and reports all data', async (t) => {
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES, withoutReadInto: true });
  Object.defineProperty(device, 'blockStatus', { value: undefined });
  await withSession(
    async ({ client }) => {
      await writeOk(client, { offsetBytes: 0, data: pattern(4096, 3) });
      client.sendRequest({ type: Command.READ, offsetBytes: 0, lengthBytes: 4096 });
      const reply = await client.readAnyReply();
      t.true(reply.kind === 'structured' && reply.payload.subarray(8).equals(pattern(4096, 3)));
      client.sendRequest({ type: Command.BLOCK_STATUS, offsetBytes: 0, lengthBytes: 8192 });
      const status = await client.readAnyReply();
      t.true(status.kind === 'structured' && status.payload.readUInt32BE(4) === 8192 && status.payload.readUInt32BE(8) === 0);
    },
    { device, blockStatus: true },
  );
});

test('a device that throws synchronously, even from flush on DISC, gets EIO and never crashes the server', async (t) => {
  const fail = (): never => {
    throw new Error('synchronous device failure');
  };
  const device: BlockDevice = {
    sizeBytes: SIZE_BYTES,
    readOnly: false,
    read: fail,
    write: fail,
    flush: fail,
    trim: fail,
    writeZeroes: fail,
    blockStatus: fail,
    cache: fail,
  };
  await withSession(
    async ({ client, server }) => {
      t.is(await readErrno(client, { type: Command.WRITE, payload: pattern(512, 1) }), NbdErrno.EIO);
      t.is(await readErrno(client, { type: Command.FLUSH }), NbdErrno.EIO);
      t.is(await readErrno(client, { type: Command.CACHE, lengthBytes: 512 }), NbdErrno.EIO);
      t.is(await readErrno(client, { type: Command.READ, lengthBytes: 512 }), NbdErrno.EIO);
      client.sendRequest({ type: Command.DISC });
      t.true(await client.closesWithoutData());
      t.true(server.logger.records.some((record) => record.message === 'flush after DISC failed'));
    },
    { device },
  );
});
