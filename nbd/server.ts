/**
 * The NBD server: listens on a Unix socket (and TCP on request), serves one export backed
 * by a BlockDevice to any number of connections, and shuts down without dropping replies.
 */
import assert from 'node:assert/strict';
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import type { BlockDevice } from './block-device.js';
import { BufferPool } from './buffer-pool.js';
import { NbdConnection } from './connection.js';
import { NbdError } from './errors.js';
import {
  BLOCK_SIZE_MIN_BYTES,
  CONNECTIONS_MAX,
  POOL_IDLE_MAX_BYTES,
  SOCKET_HIGH_WATER_MARK_BYTES,
  STRING_MAX_BYTES,
} from './limits.js';
import type { Logger } from './logger.js';
import type { ExportDescription } from './negotiation.js';

export interface NbdServerOptions {
  device: BlockDevice;
  /** Also served as the default export "". */
  exportName: string;
  description?: string;
  /** pino-compatible; one child logger per connection. */
  logger: Logger;
  /** Serve read-only even if the device is writable (a read-only device always is). */
  readOnly?: boolean;
}

/** Unix socket files are created for the owner only: whoever can connect can write the disk. */
const UNIX_SOCKET_MODE = 0o600;

export class NbdServer {
  readonly #device: BlockDevice;
  readonly #export: ExportDescription;
  readonly #logger: Logger;
  readonly #listeners: net.Server[] = [];
  readonly #connections = new Set<NbdConnection>();
  readonly #pool = new BufferPool({ idleMaxBytes: POOL_IDLE_MAX_BYTES });
  #nextConnectionId = 1;
  #shuttingDown = false;
  #closePromise: Promise<void> | null = null;

  constructor(options: NbdServerOptions) {
    assert(Buffer.byteLength(options.exportName, 'utf8') <= STRING_MAX_BYTES);
    assert(Buffer.byteLength(options.description ?? '', 'utf8') <= STRING_MAX_BYTES);
    assert(options.device.sizeBytes % BLOCK_SIZE_MIN_BYTES === 0, 'device size must be whole 512-byte blocks');
    const device = options.device;
    this.#device = device;
    this.#logger = options.logger;
    this.#export = {
      exportName: options.exportName,
      description: options.description ?? '',
      readOnly: options.readOnly === true || device.readOnly,
      canZeroFast: device.canZeroFast === true,
      sizeBytes: () => device.sizeBytes,
    };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Listens on a Unix socket with mode 0600. A socket file left by a dead process is
   * replaced; one a live process answers on is an error (ERR_NBD_SOCKET_IN_USE).
   */
  async listenUnix(path: string): Promise<void> {
    this.#assertOpen();
    await removeStaleSocket(path);
    const listener = this.#createListener('unix');
    await listen(listener, { path });
    await chmod(path, UNIX_SOCKET_MODE);
    this.#logger.info({ path }, 'NBD server listening on a Unix socket');
  }

  /** Listens on TCP, on 127.0.0.1 unless told otherwise; resolves the port bound. */
  async listenTcp(options: { host?: string; port: number }): Promise<{ port: number }> {
    this.#assertOpen();
    const host = options.host ?? '127.0.0.1';
    const listener = this.#createListener('tcp');
    await listen(listener, { host, port: options.port });
    const address = listener.address();
    assert(address !== null && typeof address === 'object');
    this.#logger.info({ host, port: address.port }, 'NBD server listening on TCP');
    return { port: address.port };
  }

  /** Stop accepting; new requests get ESHUTDOWN; wait for in-flight requests; close connections. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#shuttingDown = true;
    const listenersClosed = this.#listeners.map(
      (listener) => new Promise<void>((resolve) => listener.close(() => resolve())),
    );
    const connections = [...this.#connections];
    this.#logger.info({ connections: connections.length }, 'NBD server closing');
    for (const connection of connections) connection.beginShutdown();
    await Promise.all([...listenersClosed, ...connections.map((connection) => connection.closed)]);
    this.#logger.info({}, 'NBD server closed');
  }

  #assertOpen(): void {
    if (this.#shuttingDown) throw new NbdError('ERR_NBD_SERVER_CLOSED', 'The NBD server is closed');
  }

  #createListener(transport: 'unix' | 'tcp'): net.Server {
    const listener = net.createServer({
      allowHalfOpen: true, // replies to requests in flight still go out after the client's FIN
      pauseOnConnect: false,
      noDelay: transport === 'tcp', // proto.md: both sides SHOULD disable Nagle on TCP
      highWaterMark: SOCKET_HIGH_WATER_MARK_BYTES,
    });
    listener.on('connection', (socket) => this.#accept(socket, transport));
    listener.on('error', (error) => this.#logger.error({ err: error.message, transport }, 'NBD listener error'));
    this.#listeners.push(listener);
    return listener;
  }

  #accept(socket: net.Socket, transport: 'unix' | 'tcp'): void {
    const connectionId = this.#nextConnectionId++;
    const logger = this.#logger.child({ connection: connectionId, transport });
    if (this.#shuttingDown || this.#connections.size >= CONNECTIONS_MAX) {
      logger.warn({ connections: this.#connections.size, shuttingDown: this.#shuttingDown }, 'connection refused');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    if (transport === 'tcp') socket.setNoDelay(true);
    const connection = new NbdConnection({
      socket,
      device: this.#device,
      exportDescription: this.#export,
      logger,
      pool: this.#pool,
      isShuttingDown: () => this.#shuttingDown,
    });
    this.#connections.add(connection);
    logger.debug({ connections: this.#connections.size }, 'connection accepted');
    void connection.closed.then(() => this.#connections.delete(connection));
  }
}

function listen(listener: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    listener.once('error', onError);
    listener.listen(options, () => {
      listener.off('error', onError);
      resolve();
    });
  });
}

/** Unlinks `path` if it is a socket nobody answers on; leaves anything else alone. */
async function removeStaleSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) {
    throw new NbdError('ERR_NBD_SOCKET_PATH_TAKEN', `Cannot listen on "${path}": it exists and is not a socket`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) {
    throw new NbdError('ERR_NBD_SOCKET_IN_USE', `Cannot listen on "${path}": another process is serving it`);
  }
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
