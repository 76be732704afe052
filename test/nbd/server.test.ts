import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Command, NbdErrno, Option, OptionReply } from '../../nbd/constants.js';
import { CONNECTIONS_MAX, REQUESTS_IN_FLIGHT_MAX } from '../../nbd/limits.js';
import { MemoryDevice } from '../../nbd/memory-device.js';
import { NbdServer } from '../../nbd/server.js';
import { gate, HookedDevice, recordingLogger, startTestServer } from './helpers.js';
import { infoRequestData, RawClient } from './raw-client.js';

const SIZE_BYTES = 8 * 1024 * 1024;

async function tempDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lsvd-nbd-server-'));
}

function newServer(device = new MemoryDevice({ sizeBytes: SIZE_BYTES })): NbdServer {
  return new NbdServer({ device, exportName: 'disk', logger: recordingLogger() });
}

test('the Unix socket is created with mode 0600 and removed on close', async (t) => {
  const directory = await tempDirectory();
  const socketPath = join(directory, 'nbd.sock');
  const server = newServer();
  await server.listenUnix(socketPath);
  t.is((await stat(socketPath)).mode & 0o777, 0o600);
  await server.close();
  await t.throwsAsync(stat(socketPath), { code: 'ENOENT' });
  await rm(directory, { recursive: true });
});

test('a stale socket file left by a dead process is replaced', async (t) => {
  const directory = await tempDirectory();
  const socketPath = join(directory, 'nbd.sock');
  // A listener killed with SIGKILL leaves its socket file behind.
  const listenAndWait = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`;
  const stale = spawn(process.execPath, ['-e', listenAndWait], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => stale.stdout.once('data', resolve));
  stale.kill('SIGKILL');
  await new Promise((resolve) => stale.once('exit', resolve));
  t.true((await stat(socketPath)).isSocket());
  const server = newServer();
  await server.listenUnix(socketPath);
  const client = await RawClient.open(socketPath);
  client.destroy();
  await server.close();
  await rm(directory, { recursive: true });
});

test('a socket a live process serves is refused with ERR_NBD_SOCKET_IN_USE', async (t) => {
  const directory = await tempDirectory();
  const socketPath = join(directory, 'nbd.sock');
  const first = newServer();
  await first.listenUnix(socketPath);
  await t.throwsAsync(newServer().listenUnix(socketPath), { code: 'ERR_NBD_SOCKET_IN_USE' });
  const client = await RawClient.open(socketPath);
  client.destroy();
  await first.close();
  await rm(directory, { recursive: true });
});

test('a path that exists and is not a socket is never deleted', async (t) => {
  const directory = await tempDirectory();
  const path = join(directory, 'precious');
  await writeFile(path, 'data');
  await t.throwsAsync(newServer().listenUnix(path), { code: 'ERR_NBD_SOCKET_PATH_TAKEN' });
  t.true((await stat(path)).isFile());
  await rm(directory, { recursive: true });
});

test('TCP listens on loopback by default and serves the export', async (t) => {
  const server = newServer();
  const { port } = await server.listenTcp({ port: 0 });
  t.true(port > 0);
  const socket = net.connect({ host: '127.0.0.1', port });
  const greeting = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  t.is(greeting.subarray(0, 8).toString('latin1'), 'NBDMAGIC');
  socket.destroy();
  await server.close();
  await t.throwsAsync(server.listenTcp({ port: 0 }), { code: 'ERR_NBD_SERVER_CLOSED' });
});

test('a pino logger is accepted, with one child per connection', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  const directory = await tempDirectory();
  const server = new NbdServer({ device: new MemoryDevice({ sizeBytes: SIZE_BYTES }), exportName: 'disk', logger });
  await server.listenUnix(join(directory, 'nbd.sock'));
  const client = await RawClient.open(join(directory, 'nbd.sock'));
  client.destroy();
  await server.close();
  t.true(lines.some((line) => JSON.parse(line).connection === 1));
  await rm(directory, { recursive: true });
});

test('connectionCount follows clients connecting and leaving', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  const first = await RawClient.open(server.socketPath);
  const second = await RawClient.open(server.socketPath);
  t.is(server.server.connectionCount, 2);
  first.destroy();
  await first.closed;
  while (server.server.connectionCount > 1) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(server.server.connectionCount, 1);
  second.destroy();
  await server.close();
});

test('close: requests after it get ESHUTDOWN, requests in flight finish, then connections close', async (t) => {
  const slowRead = gate();
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES, hooks: { beforeRead: () => slowRead.promise } });
  const server = await startTestServer({ device });
  const client = await RawClient.open(server.socketPath);
  client.sendRequest({ type: Command.READ, cookie: 1n, lengthBytes: 512 });
  while (!device.calls.includes('read')) await new Promise((resolve) => setTimeout(resolve, 5));
  let closed = false;
  const closing = server.server.close().then(() => (closed = true));
  client.sendRequest({ type: Command.WRITE, cookie: 2n, payload: Buffer.alloc(512) });
  const refused = await client.readSimpleReply();
  t.deepEqual([refused.cookie, refused.errno], [2n, NbdErrno.ESHUTDOWN]);
  t.false(closed, 'close waits for the READ in flight');
  slowRead.open();
  const served = await client.readSimpleReply(512);
  t.deepEqual([served.cookie, served.errno], [1n, 0]);
  await closing;
  t.true(await client.closesWithoutData());
  t.is(server.server.connectionCount, 0);
  t.false(device.calls.includes('write'));
  await server.close();
});

test('close ends connections still negotiating and refuses new ones', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  const negotiating = await RawClient.negotiate(server.socketPath);
  await server.server.close();
  t.true(await negotiating.closesWithoutData());
  await t.throwsAsync(RawClient.connect(server.socketPath));
  await server.close();
});

test('close waits for device calls of a client that vanished', async (t) => {
  const slowWrite = gate();
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES, hooks: { beforeWrite: () => slowWrite.promise } });
  const server = await startTestServer({ device });
  const client = await RawClient.open(server.socketPath);
  client.sendRequest({ type: Command.WRITE, payload: Buffer.alloc(4096, 7) });
  while (!device.calls.includes('write')) await new Promise((resolve) => setTimeout(resolve, 5));
  client.destroy();
  let closed = false;
  const closing = server.server.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(closed);
  slowWrite.open();
  await closing;
  t.true((await device.inner.read(0, 4096)).every((byte) => byte === 7));
  await server.close();
});

test('no more than the in-flight limit of requests reach the device at once, and all are served', async (t) => {
  const held = gate();
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES, hooks: { beforeRead: () => held.promise } });
  const server = await startTestServer({ device });
  const client = await RawClient.open(server.socketPath);
  const requestCount = REQUESTS_IN_FLIGHT_MAX + 50;
  for (let index = 0; index < requestCount; index++) {
    client.sendRequest({ type: Command.READ, cookie: BigInt(index), offsetBytes: 512 * index, lengthBytes: 512 });
  }
  while (device.calls.length < REQUESTS_IN_FLIGHT_MAX) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(device.calls.length, REQUESTS_IN_FLIGHT_MAX);
  held.open();
  const cookies = new Set<bigint>();
  for (let index = 0; index < requestCount; index++) cookies.add((await client.readSimpleReply(512)).cookie);
  t.is(cookies.size, requestCount);
  client.destroy();
  await server.close();
});

test('a client that does not read its replies stops the server reading its requests', async (t) => {
  const device = new HookedDevice({ sizeBytes: 64 * 1024 * 1024 });
  const server = await startTestServer({ device });
  const client = await RawClient.open(server.socketPath);
  client.socket.pause();
  const requestCount = 2000;
  const lengthBytes = 64 * 1024;
  for (let index = 0; index < requestCount; index++) {
    client.sendRequest({ type: Command.READ, cookie: BigInt(index), offsetBytes: (index % 1000) * lengthBytes, lengthBytes });
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const readsWhilePaused = device.calls.length;
  t.log(`${readsWhilePaused} of ${requestCount} READs reached the device while the client read nothing`);
  t.true(readsWhilePaused < requestCount / 2, `${readsWhilePaused} reads while the client read nothing`);
  client.socket.resume();
  for (let index = 0; index < requestCount; index++) t.is((await client.readSimpleReply(lengthBytes)).errno, 0);
  t.is(device.calls.length, requestCount);
  client.destroy();
  await server.close();
});

test('after the client half-closes, requests it sent are still answered', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  const client = await RawClient.open(server.socketPath);
  for (let index = 0; index < 10; index++) client.sendRequest({ type: Command.READ, cookie: BigInt(index), lengthBytes: 4096 });
  client.socket.end();
  for (let index = 0; index < 10; index++) t.is((await client.readSimpleReply(4096)).errno, 0);
  t.true(await client.closesWithoutData());
  await server.close();
});

test('a client closing in the middle of a request is dropped and the server keeps serving', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  const client = await RawClient.open(server.socketPath);
  client.sendRequest({ type: Command.WRITE, lengthBytes: 4096, payload: Buffer.alloc(100) });
  client.socket.end();
  t.true(await client.closesWithoutData());
  const other = await RawClient.negotiate(server.socketPath);
  const reply = await other.option(Option.STRUCTURED_REPLY, Buffer.alloc(0));
  t.is(reply.replyType, OptionReply.ACK);
  const info = await other.optionUntilFinal(Option.INFO, infoRequestData('disk', []));
  t.is(info.at(-1)?.replyType, OptionReply.ACK);
  other.destroy();
  await server.close();
});

test('connections beyond the limit are closed at accept, and the others keep working', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  const clients = await Promise.all(Array.from({ length: CONNECTIONS_MAX }, () => RawClient.negotiate(server.socketPath)));
  t.is(server.server.connectionCount, CONNECTIONS_MAX);
  const refused = await RawClient.connect(server.socketPath);
  t.true(await refused.closesWithoutData());
  t.true(server.logger.records.some((record) => record.message === 'connection refused'));
  const reply = await clients[0]?.option(Option.STRUCTURED_REPLY, Buffer.alloc(0));
  t.is(reply?.replyType, OptionReply.ACK);
  for (const client of clients) client.destroy();
  await server.close();
});
