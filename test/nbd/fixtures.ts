/**
 * Test fixtures usable outside ava too (the long fuzz run): a server on a Unix socket in a
 * temp dir, a logger that records, devices with hooks, child processes with timeouts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockDevice, BlockStatusExtent, WriteZeroesOptions } from '../../nbd/block-device.js';
import type { Logger } from '../../nbd/logger.js';
import { MemoryDevice } from '../../nbd/memory-device.js';
import { NbdServer } from '../../nbd/server.js';

export const EXPORT_NAME = 'disk';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  bindings: Record<string, unknown>;
  object: Record<string, unknown>;
  message: string | undefined;
}

/** A Logger that keeps every record (children included) for assertions. */
export function recordingLogger(records: LogRecord[] = [], bindings: Record<string, unknown> = {}): Logger & { records: LogRecord[] } {
  const log = (level: LogRecord['level']) => (object: Record<string, unknown>, message?: string) => {
    records.push({ level, bindings, object, message });
  };
  return {
    records,
    child: (more) => recordingLogger(records, { ...bindings, ...more }),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
}

export interface TestServer {
  server: NbdServer;
  device: BlockDevice;
  directory: string;
  socketPath: string;
  /** nbd+unix URI of the named export. */
  uri: string;
  logger: ReturnType<typeof recordingLogger>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: { device?: BlockDevice; sizeBytes?: number; readOnly?: boolean; description?: string } = {},
): Promise<TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-nbd-test-'));
  const socketPath = join(directory, 'nbd.sock');
  const device = options.device ?? new MemoryDevice({ sizeBytes: options.sizeBytes ?? 64 * 1024 * 1024 });
  const logger = recordingLogger();
  const server = new NbdServer({
    device,
    exportName: EXPORT_NAME,
    description: options.description ?? 'test export',
    logger,
    ...(options.readOnly === undefined ? {} : { readOnly: options.readOnly }),
  });
  await server.listenUnix(socketPath);
  return {
    server,
    device,
    directory,
    socketPath,
    uri: `nbd+unix:///${EXPORT_NAME}?socket=${socketPath}`,
    logger,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never rejects on a non-zero exit). */
export function run(command: string, args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws with its output unless it exits 0. */
export async function runOk(command: string, args: string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** A MemoryDevice with hooks: each call can be delayed, counted or made to fail. */
export interface DeviceHooks {
  beforeRead?: (offsetBytes: number, lengthBytes: number) => Promise<void> | void;
  beforeWrite?: (offsetBytes: number, lengthBytes: number) => Promise<void> | void;
  beforeFlush?: () => Promise<void> | void;
  beforeWriteZeroes?: (options: { fastOnly?: boolean; noHole: boolean }) => Promise<void> | void;
}

export class HookedDevice implements BlockDevice {
  readonly inner: MemoryDevice;
  readonly hooks: DeviceHooks;
  readonly calls: string[] = [];
  readonly canZeroFast: boolean;

  constructor(options: { sizeBytes: number; hooks?: DeviceHooks; canZeroFast?: boolean; withoutReadInto?: boolean }) {
    this.inner = new MemoryDevice({ sizeBytes: options.sizeBytes });
    this.hooks = options.hooks ?? {};
    this.canZeroFast = options.canZeroFast ?? true;
    if (options.withoutReadInto !== true) {
      Object.defineProperty(this, 'readInto', {
        value: async (offsetBytes: number, target: Uint8Array) => {
          this.calls.push('read');
          await this.hooks.beforeRead?.(offsetBytes, target.length);
          await this.inner.readInto(offsetBytes, target);
        },
      });
    }
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    this.calls.push('read');
    await this.hooks.beforeRead?.(offsetBytes, lengthBytes);
    return this.inner.read(offsetBytes, lengthBytes);
  }

  async write(offsetBytes: number, data: Uint8Array, options: { fua: boolean }): Promise<void> {
    this.calls.push(options.fua ? 'write-fua' : 'write');
    await this.hooks.beforeWrite?.(offsetBytes, data.length);
    await this.inner.write(offsetBytes, data, options);
  }

  async flush(): Promise<void> {
    this.calls.push('flush');
    await this.hooks.beforeFlush?.();
  }

  async trim(offsetBytes: number, lengthBytes: number, options: { fua: boolean }): Promise<void> {
    this.calls.push('trim');
    await this.inner.trim(offsetBytes, lengthBytes, options);
  }

  async writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions): Promise<void> {
    this.calls.push('zero');
    await this.hooks.beforeWriteZeroes?.(options);
    await this.inner.writeZeroes(offsetBytes, lengthBytes, options);
  }

  async blockStatus(offsetBytes: number, lengthBytes: number): Promise<BlockStatusExtent[]> {
    return this.inner.blockStatus(offsetBytes, lengthBytes);
  }
}

/** A promise with its resolve function, to hold a device call until a test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** An error as a device would raise it, with an errno-style code. */
export function deviceError(code: string, message = `device failed with ${code}`): Error {
  return Object.assign(new Error(message), { code });
}
