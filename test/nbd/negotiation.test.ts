import test from 'ava';
import { CLIENT_FLAG_FIXED_NEWSTYLE, Info, Option, OptionReply, TransmissionFlag } from '../../nbd/constants.js';
import { OPTION_DATA_MAX_BYTES, OPTIONS_MAX } from '../../nbd/limits.js';
import { EXPORT_NAME, HookedDevice, startTestServer, type TestServer } from './helpers.js';
import { infoRequestData, metaContextData, RawClient, u32 } from './raw-client.js';

const SIZE_BYTES = 8 * 1024 * 1024;

async function withServer(run: (server: TestServer) => Promise<void>, options: { readOnly?: boolean } = {}): Promise<void> {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES, ...options });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

/** A READ of the first 512 bytes, answered with a simple reply: proof the session works. */
async function assertTransmissionWorks(t: { is: (a: unknown, b: unknown) => void }, client: RawClient): Promise<void> {
  client.sendRequest({ type: 0, cookie: 77n, offsetBytes: 0, lengthBytes: 512 });
  const reply = await client.readSimpleReply(512);
  t.is(reply.errno, 0);
  t.is(reply.cookie, 77n);
}

test('the greeting is NBDMAGIC, IHAVEOPT and the fixed-newstyle and no-zeroes flags only', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.connect(socketPath);
    const greeting = await client.read(18);
    t.is(greeting.subarray(0, 8).toString('latin1'), 'NBDMAGIC');
    t.is(greeting.subarray(8, 16).toString('latin1'), 'IHAVEOPT');
    t.is(greeting.readUInt16BE(16), 0b11);
    client.destroy();
  });
});

test('client flags the server did not advertise drop the connection', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath, CLIENT_FLAG_FIXED_NEWSTYLE | 0x4);
    client.sendOption(Option.LIST, Buffer.alloc(0));
    t.true(await client.closesWithoutData());
  });
});

test('an unknown option gets ERR_UNSUP and the session continues', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    for (const option of [4, 11, 42, 0xfffffff0]) {
      const reply = await client.option(option, Buffer.from('some option data'));
      t.is(reply.option, option >>> 0);
      t.is(reply.replyType, OptionReply.ERR_UNSUP);
    }
    const starttls = await client.option(Option.STARTTLS, Buffer.alloc(0));
    t.is(starttls.replyType, OptionReply.ERR_UNSUP, 'a server without TLS never answers TLS_REQD');
    const go = await client.optionUntilFinal(Option.GO, infoRequestData(EXPORT_NAME, []));
    t.is(go.at(-1)?.replyType, OptionReply.ACK);
    await assertTransmissionWorks(t, client);
    client.destroy();
  });
});

test('EXPORT_NAME without NO_ZEROES is answered with size, flags and 124 zero bytes', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath, CLIENT_FLAG_FIXED_NEWSTYLE);
    client.sendOption(Option.EXPORT_NAME, Buffer.from(EXPORT_NAME));
    const reply = await client.read(8 + 2 + 124);
    t.is(reply.readBigUInt64BE(0), BigInt(SIZE_BYTES));
    t.truthy(reply.readUInt16BE(8) & TransmissionFlag.HAS_FLAGS);
    t.true(reply.subarray(10).every((byte) => byte === 0));
    await assertTransmissionWorks(t, client);
    client.destroy();
  });
});

test('EXPORT_NAME with NO_ZEROES is answered with size and flags only, for the default export too', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    client.sendOption(Option.EXPORT_NAME, Buffer.alloc(0));
    const reply = await client.read(10);
    t.is(reply.readBigUInt64BE(0), BigInt(SIZE_BYTES));
    await assertTransmissionWorks(t, client);
    client.destroy();
  });
});

test('EXPORT_NAME of an unknown export ends the session, as it cannot be refused', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    client.sendOption(Option.EXPORT_NAME, Buffer.from('nope'));
    t.true(await client.closesWithoutData());
  });
});

test('GO with inconsistent lengths gets ERR_INVALID and the session continues', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    const good = infoRequestData(EXPORT_NAME, [Info.BLOCK_SIZE]);
    const malformed = [
      good.subarray(0, 5),
      Buffer.concat([good, Buffer.from([0])]),
      Buffer.concat([u32(1000), good.subarray(4)]),
      Buffer.alloc(0),
    ];
    for (const data of malformed) {
      const [reply] = await client.optionUntilFinal(Option.GO, data);
      t.is(reply?.replyType, OptionReply.ERR_INVALID);
    }
    const go = await client.optionUntilFinal(Option.GO, good);
    t.is(go.at(-1)?.replyType, OptionReply.ACK);
    await assertTransmissionWorks(t, client);
    client.destroy();
  });
});

test('GO and INFO for an unknown export get ERR_UNKNOWN and negotiation goes on', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    for (const option of [Option.INFO, Option.GO]) {
      const replies = await client.optionUntilFinal(option, infoRequestData('other', []));
      t.deepEqual(replies.map((reply) => reply.replyType), [OptionReply.ERR_UNKNOWN]);
    }
    const go = await client.optionUntilFinal(Option.GO, infoRequestData('', []));
    t.is(go.at(-1)?.replyType, OptionReply.ACK);
    client.destroy();
  });
});

test('INFO reports size, flags, block sizes qemu accepts, name and description, and GO repeats it', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    const request = infoRequestData(EXPORT_NAME, [Info.NAME, Info.DESCRIPTION, Info.BLOCK_SIZE, 999]);
    const info = await client.optionUntilFinal(Option.INFO, request);
    const go = await client.optionUntilFinal(Option.GO, request);
    t.deepEqual(
      info.map((reply) => [reply.replyType, reply.data.toString('hex')]),
      go.map((reply) => [reply.replyType, reply.data.toString('hex')]),
    );
    const infoReplies = info.filter((reply) => reply.replyType === OptionReply.INFO);
    const byType = new Map(infoReplies.map((reply) => [reply.data.readUInt16BE(0), reply.data]));
    const exportInfo = byType.get(Info.EXPORT);
    t.is(exportInfo?.length, 12);
    t.is(exportInfo?.readBigUInt64BE(2), BigInt(SIZE_BYTES));
    const blockSize = byType.get(Info.BLOCK_SIZE);
    t.deepEqual([blockSize?.readUInt32BE(2), blockSize?.readUInt32BE(6), blockSize?.readUInt32BE(10)], [512, 4096, 32 * 1024 * 1024]);
    t.is(byType.get(Info.NAME)?.subarray(2).toString(), EXPORT_NAME);
    t.is(byType.get(Info.DESCRIPTION)?.subarray(2).toString(), 'test export');
    t.is(info.at(-1)?.replyType, OptionReply.ACK);
    await assertTransmissionWorks(t, client);
    client.destroy();
  });
});

test('transmission flags advertise what the server does, and DF only with structured replies', async (t) => {
  await withServer(async ({ socketPath }) => {
    const flagsOf = async (structured: boolean): Promise<number> => {
      const client = await RawClient.negotiate(socketPath);
      if (structured) await client.option(Option.STRUCTURED_REPLY, Buffer.alloc(0));
      const replies = await client.optionUntilFinal(Option.INFO, infoRequestData(EXPORT_NAME, []));
      client.destroy();
      return replies[0]?.data.readUInt16BE(10) ?? 0;
    };
    const expected =
      TransmissionFlag.HAS_FLAGS |
      TransmissionFlag.SEND_FLUSH |
      TransmissionFlag.SEND_FUA |
      TransmissionFlag.SEND_TRIM |
      TransmissionFlag.SEND_WRITE_ZEROES |
      TransmissionFlag.CAN_MULTI_CONN |
      TransmissionFlag.SEND_CACHE |
      TransmissionFlag.SEND_FAST_ZERO;
    t.is(await flagsOf(false), expected);
    t.is(await flagsOf(true), expected | TransmissionFlag.SEND_DF);
  });
});

test('a read-only export advertises READ_ONLY and no write features', async (t) => {
  await withServer(
    async ({ socketPath }) => {
      const client = await RawClient.negotiate(socketPath);
      const replies = await client.optionUntilFinal(Option.INFO, infoRequestData(EXPORT_NAME, []));
      const flags = replies[0]?.data.readUInt16BE(10) ?? 0;
      t.truthy(flags & TransmissionFlag.READ_ONLY);
      t.falsy(flags & (TransmissionFlag.SEND_TRIM | TransmissionFlag.SEND_WRITE_ZEROES | TransmissionFlag.SEND_FAST_ZERO));
      client.destroy();
    },
    { readOnly: true },
  );
});

test('LIST names the export with its description, and LIST with data gets ERR_INVALID', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    const replies = await client.optionUntilFinal(Option.LIST, Buffer.alloc(0));
    t.deepEqual(replies.map((reply) => reply.replyType), [OptionReply.SERVER, OptionReply.ACK]);
    const entry = replies[0]?.data ?? Buffer.alloc(4);
    const nameLengthBytes = entry.readUInt32BE(0);
    t.is(entry.subarray(4, 4 + nameLengthBytes).toString(), EXPORT_NAME);
    t.is(entry.subarray(4 + nameLengthBytes).toString(), 'test export');
    const invalid = await client.option(Option.LIST, Buffer.from('x'));
    t.is(invalid.replyType, OptionReply.ERR_INVALID);
    client.destroy();
  });
});

test('ABORT is acknowledged and then the server closes, answering nothing after it', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    client.sendOption(Option.ABORT, Buffer.alloc(0));
    client.sendOption(Option.LIST, Buffer.alloc(0));
    const reply = await client.readOptionReply();
    t.is(reply.replyType, OptionReply.ACK);
    t.true(await client.closesWithoutData());
  });
});

test('STRUCTURED_REPLY with data, or a second time, gets ERR_INVALID', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    t.is((await client.option(Option.STRUCTURED_REPLY, Buffer.from([1]))).replyType, OptionReply.ERR_INVALID);
    t.is((await client.option(Option.STRUCTURED_REPLY, Buffer.alloc(0))).replyType, OptionReply.ACK);
    t.is((await client.option(Option.STRUCTURED_REPLY, Buffer.alloc(0))).replyType, OptionReply.ERR_INVALID);
    client.destroy();
  });
});

test('SET_META_CONTEXT before STRUCTURED_REPLY gets ERR_INVALID', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    const replies = await client.optionUntilFinal(Option.SET_META_CONTEXT, metaContextData(EXPORT_NAME, ['base:allocation']));
    t.deepEqual(replies.map((reply) => reply.replyType), [OptionReply.ERR_INVALID]);
    client.destroy();
  });
});

test('meta contexts: LIST offers base:allocation, SET selects it with an id, unknown queries select nothing', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    await client.option(Option.STRUCTURED_REPLY, Buffer.alloc(0));
    const listed = await client.optionUntilFinal(Option.LIST_META_CONTEXT, metaContextData(EXPORT_NAME, []));
    t.deepEqual(listed.map((reply) => reply.replyType), [OptionReply.META_CONTEXT, OptionReply.ACK]);
    t.is(listed[0]?.data.subarray(4).toString(), 'base:allocation');
    const none = await client.optionUntilFinal(Option.SET_META_CONTEXT, metaContextData(EXPORT_NAME, ['qemu:dirty-bitmap:x']));
    t.deepEqual(none.map((reply) => reply.replyType), [OptionReply.ACK]);
    const set = await client.optionUntilFinal(Option.SET_META_CONTEXT, metaContextData(EXPORT_NAME, ['base:allocation']));
    t.deepEqual(set.map((reply) => reply.replyType), [OptionReply.META_CONTEXT, OptionReply.ACK]);
    t.not(set[0]?.data.readUInt32BE(0), 0);
    const truncated = metaContextData(EXPORT_NAME, ['base:allocation']).subarray(0, 12);
    const malformed = await client.optionUntilFinal(Option.SET_META_CONTEXT, truncated);
    t.deepEqual(malformed.map((reply) => reply.replyType), [OptionReply.ERR_INVALID]);
    const unknownExport = await client.optionUntilFinal(Option.LIST_META_CONTEXT, metaContextData('other', []));
    t.deepEqual(unknownExport.map((reply) => reply.replyType), [OptionReply.ERR_UNKNOWN]);
    client.destroy();
  });
});

test('more options than the limit disconnect the client', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    for (let index = 0; index < OPTIONS_MAX; index++) {
      t.is((await client.option(99, Buffer.alloc(0))).replyType, OptionReply.ERR_UNSUP);
    }
    client.sendOption(99, Buffer.alloc(0));
    t.true(await client.closesWithoutData());
  });
});

test('an option longer than the limit disconnects the client without reading it', async (t) => {
  await withServer(async ({ socketPath, logger }) => {
    const client = await RawClient.negotiate(socketPath);
    const header = Buffer.alloc(16);
    header.write('IHAVEOPT', 'latin1');
    header.writeUInt32BE(Option.GO, 8);
    header.writeUInt32BE(OPTION_DATA_MAX_BYTES + 1, 12);
    client.write(header);
    t.true(await client.closesWithoutData());
    t.true(logger.records.some((record) => record.level === 'warn' && String(record.object['reason']).includes('option data')));
  });
});

test('a bad option magic disconnects the client and the server keeps serving others', async (t) => {
  await withServer(async ({ socketPath }) => {
    const client = await RawClient.negotiate(socketPath);
    client.write(Buffer.alloc(16, 0x41));
    t.true(await client.closesWithoutData());
    const other = await RawClient.open(socketPath);
    await assertTransmissionWorks(t, other);
    other.destroy();
  });
});

test('a client closing in the middle of an option is dropped quietly', async (t) => {
  await withServer(async ({ socketPath, server }) => {
    const client = await RawClient.negotiate(socketPath);
    client.write(Buffer.from('IHAVEOPT'));
    client.end();
    await client.closed;
    const other = await RawClient.open(socketPath);
    await assertTransmissionWorks(t, other);
    other.destroy();
    await other.closed;
    t.true(server.connectionCount <= 1);
  });
});

test('each negotiation reports the device size of that moment, so a grown device is seen', async (t) => {
  const device = new HookedDevice({ sizeBytes: 2 * SIZE_BYTES });
  let sizeBytes = SIZE_BYTES;
  Object.defineProperty(device, 'sizeBytes', { get: () => sizeBytes });
  const server = await startTestServer({ device });
  try {
    const sizeSeen = async (): Promise<bigint | undefined> => {
      const client = await RawClient.negotiate(server.socketPath);
      const replies = await client.optionUntilFinal(Option.INFO, infoRequestData('', []));
      client.destroy();
      return replies[0]?.data.readBigUInt64BE(2);
    };
    t.is(await sizeSeen(), BigInt(SIZE_BYTES));
    sizeBytes = 2 * SIZE_BYTES;
    t.is(await sizeSeen(), BigInt(2 * SIZE_BYTES));
  } finally {
    await server.close();
  }
});
