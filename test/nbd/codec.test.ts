import test from 'ava';
import { Command, CommandFlag, NbdErrno, STATE_HOLE, STATE_ZERO } from '../../nbd/constants.js';
import { decodeInfoRequest, decodeMetaContextRequest, encodeGreeting } from '../../nbd/handshake-codec.js';
import { REQUEST_DATA_MAX_BYTES } from '../../nbd/limits.js';
import { toDescriptors, validateRequest, type SessionFeatures } from '../../nbd/requests.js';
import {
  decodeRequestHeader,
  encodeBlockStatusChunk,
  encodeErrorChunk,
  encodeReadChunkHeader,
  encodeRequestHeader,
  encodeSimpleReply,
  type RequestHeader,
} from '../../nbd/transmission-codec.js';
import { infoRequestData, metaContextData } from './raw-client.js';

test('the greeting encodes NBDMAGIC, IHAVEOPT and flags 0x0003', (t) => {
  t.is(encodeGreeting().toString('hex'), '4e42444d41474943' + '49484156454f5054' + '0003');
});

test('INFO/GO data decodes only when its lengths add up exactly', (t) => {
  t.deepEqual(decodeInfoRequest(infoRequestData('disk', [3, 1])), { exportName: 'disk', infoTypes: [3, 1] });
  t.deepEqual(decodeInfoRequest(infoRequestData('', [])), { exportName: '', infoTypes: [] });
  const valid = infoRequestData('disk', [3]);
  t.is(decodeInfoRequest(valid.subarray(0, valid.length - 1)), null);
  t.is(decodeInfoRequest(Buffer.concat([valid, Buffer.alloc(2)])), null);
  const nameTooLong = Buffer.from(valid);
  nameTooLong.writeUInt32BE(0xffffffff, 0);
  t.is(decodeInfoRequest(nameTooLong), null);
  t.is(decodeInfoRequest(Buffer.alloc(5)), null);
});

test('meta context data decodes queries and rejects lengths that leave the option', (t) => {
  t.deepEqual(decodeMetaContextRequest(metaContextData('disk', ['base:allocation', 'x-y:z'])), {
    kind: 'valid',
    exportName: 'disk',
    queries: ['base:allocation', 'x-y:z'],
  });
  const valid = metaContextData('disk', ['base:allocation']);
  t.deepEqual(decodeMetaContextRequest(valid.subarray(0, valid.length - 1)), { kind: 'invalid' });
  t.deepEqual(decodeMetaContextRequest(Buffer.concat([valid, Buffer.alloc(1)])), { kind: 'invalid' });
  const manyQueries = metaContextData('disk', []);
  manyQueries.writeUInt32BE(1_000_000, 8);
  t.deepEqual(decodeMetaContextRequest(manyQueries), { kind: 'too-big' });
});

test('a request header round-trips, cookie halves included, and u64 offsets beyond 2^53 stay out of range', (t) => {
  const header: RequestHeader = {
    magic: 0x25609513,
    flags: 1,
    type: Command.WRITE,
    cookieHigh: 0xdeadbeef,
    cookieLow: 0x01020304,
    offsetBytes: 2 ** 40 + 512,
    lengthBytes: 0xfffffe00,
  };
  t.deepEqual(decodeRequestHeader(encodeRequestHeader(header)), header);
  const huge = encodeRequestHeader(header);
  huge.writeBigUInt64BE(2n ** 64n - 512n, 16);
  t.true(decodeRequestHeader(huge).offsetBytes > Number.MAX_SAFE_INTEGER);
  t.is(encodeSimpleReply(header, 0).subarray(8).toString('hex'), 'deadbeef01020304');
});

test('structured chunks carry DONE, their type, and exact payload lengths', (t) => {
  const cookie = { cookieHigh: 0, cookieLow: 9 };
  const read = encodeReadChunkHeader(cookie, { offsetBytes: 4096, dataLengthBytes: 512 });
  t.is(read.toString('hex'), '668e33ef' + '0001' + '0001' + '0000000000000009' + '00000208' + '0000000000001000');
  const error = encodeErrorChunk(cookie, { errno: NbdErrno.EIO, message: 'x'.repeat(1000) });
  t.is(error.readUInt16BE(6), 0x8001);
  t.is(error.readUInt32BE(16), error.length - 20);
  t.is(error.readUInt16BE(24), 256, 'the message is cut to its bound');
  const status = encodeBlockStatusChunk(cookie, { contextId: 1, descriptors: [{ lengthBytes: 512, statusFlags: 3 }] });
  t.is(status.subarray(16).toString('hex'), '0000000c' + '00000001' + '00000200' + '00000003');
});

test('device extents become merged, clipped, 512-aligned descriptors; REQ_ONE keeps one', (t) => {
  const extents = [
    { lengthBytes: 4096, hole: true, zero: true },
    { lengthBytes: 4096, hole: false, zero: true },
    { lengthBytes: 8192, hole: false, zero: true },
    { lengthBytes: 1 << 30, hole: false, zero: false },
  ];
  t.deepEqual(toDescriptors(extents, { lengthBytes: 20480, reqOne: false }), [
    { lengthBytes: 4096, statusFlags: STATE_HOLE | STATE_ZERO },
    { lengthBytes: 12288, statusFlags: STATE_ZERO },
    { lengthBytes: 4096, statusFlags: 0 },
  ]);
  t.deepEqual(toDescriptors(extents, { lengthBytes: 1024, reqOne: true }), [{ lengthBytes: 1024, statusFlags: 3 }]);
  t.deepEqual(toDescriptors([{ lengthBytes: 1000, hole: false, zero: false }], { lengthBytes: 4096, reqOne: false }), []);
  t.deepEqual(
    toDescriptors(
      [
        { lengthBytes: 512, hole: false, zero: false },
        { lengthBytes: -5, hole: true, zero: true },
      ],
      { lengthBytes: 4096, reqOne: false },
    ),
    [{ lengthBytes: 512, statusFlags: 0 }],
  );
});

const FEATURES: SessionFeatures = { structuredReplies: false, baseAllocationContextId: null, readOnly: false, canZeroFast: true };
const SIZE_BYTES = 1024 * 1024;

function request(fields: Partial<RequestHeader>): RequestHeader {
  return { magic: 0x25609513, flags: 0, type: Command.READ, cookieHigh: 0, cookieLow: 0, offsetBytes: 0, lengthBytes: 512, ...fields };
}

test('validation gives the errno the spec asks for', (t) => {
  const errnoOf = (fields: Partial<RequestHeader>, features: Partial<SessionFeatures> = {}): number =>
    validateRequest(request(fields), { features: { ...FEATURES, ...features }, sizeBytes: SIZE_BYTES })?.errno ?? 0;
  t.is(errnoOf({}), 0);
  t.is(errnoOf({ type: Command.WRITE, offsetBytes: SIZE_BYTES }), NbdErrno.ENOSPC);
  t.is(errnoOf({ type: Command.WRITE_ZEROES, offsetBytes: SIZE_BYTES - 512, lengthBytes: 1024 }), NbdErrno.ENOSPC);
  t.is(errnoOf({ type: Command.READ, offsetBytes: SIZE_BYTES }), NbdErrno.EINVAL);
  t.is(errnoOf({ type: Command.READ, lengthBytes: REQUEST_DATA_MAX_BYTES + 512 }), NbdErrno.EOVERFLOW);
  t.is(errnoOf({ type: Command.TRIM, lengthBytes: 0xfffffe00 }), NbdErrno.EINVAL, 'past the end of this small device');
  const hugeTrim = request({ type: Command.TRIM, lengthBytes: 0xfffffe00 });
  t.is(validateRequest(hugeTrim, { features: FEATURES, sizeBytes: 2 ** 33 }), null, 'a TRIM of almost 4 GiB is fine');
  t.is(errnoOf({ type: Command.WRITE }, { readOnly: true }), NbdErrno.EPERM);
  t.is(errnoOf({ type: Command.WRITE_ZEROES, flags: CommandFlag.FAST_ZERO }, { canZeroFast: false }), NbdErrno.EINVAL);
  t.is(errnoOf({ type: Command.WRITE_ZEROES, flags: CommandFlag.FAST_ZERO | CommandFlag.NO_HOLE | CommandFlag.FUA }), 0);
  t.is(errnoOf({ type: Command.READ, flags: CommandFlag.DF }, { structuredReplies: true }), 0);
  t.is(errnoOf({ type: Command.BLOCK_STATUS, flags: CommandFlag.REQ_ONE }, { structuredReplies: true, baseAllocationContextId: 1 }), 0);
  t.is(errnoOf({ type: Command.BLOCK_STATUS, lengthBytes: 0 }, { structuredReplies: true, baseAllocationContextId: 1 }), NbdErrno.EINVAL);
  t.is(errnoOf({ type: Command.FLUSH, lengthBytes: 0 }), 0);
  t.is(errnoOf({ type: Command.CACHE, lengthBytes: 1 << 30 }, {}), NbdErrno.EINVAL);
  t.is(errnoOf({ type: 9 }), NbdErrno.EINVAL);
});
