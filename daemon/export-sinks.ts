/**
 * Where `lsvd export` writes the image: a sparse file (positional writes of the mapped bytes
 * only, on a file truncated to the volume size, so unwritten and trimmed ranges take no disk
 * space) or a stream such as stdout (every byte in order, zeros included).
 */
import assert from 'node:assert/strict';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { ExportError } from './export-errors.js';
import type { ImageSink } from './export-image.js';

export interface ClosableImageSink extends ImageSink {
  /** Makes everything written durable (a file is fsynced) and releases the output. */
  finish(): Promise<void>;
  /** Releases the output without finishing (after a failure); idempotent. */
  close(): Promise<void>;
}

function errnoOf(error: unknown): string {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : error instanceof Error ? error.message : String(error);
}

function outputFailed(options: { what: string; path: string; error: unknown }): ExportError {
  const { what, path, error } = options;
  return new ExportError('ERR_EXPORT_OUTPUT_FAILED', `Cannot ${what} ${path}: ${errnoOf(error)}`, { cause: error });
}

/** Refuses to replace a non-empty file unless `force`, and anything that is not a regular file. */
export async function checkOutputPath(path: string, force: boolean): Promise<void> {
  const existing = await stat(path).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw outputFailed({ what: 'inspect', path, error });
  });
  if (existing === undefined) return;
  if (!existing.isFile()) {
    throw new ExportError('ERR_EXPORT_OUTPUT_INVALID', `${path} is not a regular file; give a file path, or --output - and redirect the stream`);
  }
  if (existing.size > 0 && !force) {
    throw new ExportError('ERR_EXPORT_OUTPUT_EXISTS', `${path} already exists and is not empty (${existing.size} bytes); pass --force to overwrite it`);
  }
}

/** Creates (or truncates) `path` as a sparse file of `sizeBytes`; the image is written into it. */
export async function openFileSink(options: { path: string; sizeBytes: number; force: boolean }): Promise<ClosableImageSink> {
  const { path, sizeBytes } = options;
  await checkOutputPath(path, options.force);
  let handle: FileHandle;
  try {
    handle = await open(path, 'w');
  } catch (error) {
    throw outputFailed({ what: 'create', path, error });
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  try {
    // A file of the volume's size that stores nothing yet: holes read as zeros and take no space.
    await handle.truncate(sizeBytes);
  } catch (error) {
    await close().catch(() => undefined);
    throw outputFailed({ what: 'size', path, error });
  }
  return {
    sequential: false,
    async write(offsetBytes: number, data: Uint8Array): Promise<void> {
      assert(offsetBytes + data.byteLength <= sizeBytes, 'the image ends at the volume size');
      try {
        for (let writtenBytes = 0; writtenBytes < data.byteLength; ) {
          const { bytesWritten } = await handle.write(data, writtenBytes, data.byteLength - writtenBytes, offsetBytes + writtenBytes);
          writtenBytes += bytesWritten;
        }
      } catch (error) {
        throw outputFailed({ what: 'write', path, error });
      }
    },
    async finish(): Promise<void> {
      try {
        await handle.sync();
        await close();
      } catch (error) {
        throw outputFailed({ what: 'sync', path, error });
      }
    },
    close: () => close().catch(() => undefined),
  };
}

/** Writes every byte to `stream` in order, waiting for it to drain; a closed stream fails the export. */
export function streamSink(options: { stream: Writable; sizeBytes: number; name: string }): ClosableImageSink {
  const { stream, sizeBytes, name } = options;
  let nextOffsetBytes = 0;
  let failure: Error | undefined;
  const onError = (error: Error): void => {
    failure ??= outputFailed({ what: 'write to', path: name, error });
  };
  stream.on('error', onError);
  const waitForDrain = (): Promise<void> =>
    new Promise((resolve) => {
      // 'close' too: a stream destroyed (with or without an error) never drains.
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  return {
    sequential: true,
    async write(offsetBytes: number, data: Uint8Array): Promise<void> {
      assert(offsetBytes === nextOffsetBytes, 'a stream is written in order, without gaps');
      if (failure !== undefined) throw failure;
      nextOffsetBytes += data.byteLength;
      if (!stream.write(data)) await waitForDrain();
      if (failure !== undefined) throw failure;
      if (stream.destroyed) throw outputFailed({ what: 'write to', path: name, error: new Error('the stream was closed') });
    },
    async finish(): Promise<void> {
      assert(nextOffsetBytes === sizeBytes, 'every byte of the image was written');
      await new Promise<void>((resolve) => stream.write(new Uint8Array(0), () => resolve()));
      if (failure !== undefined) throw failure;
    },
    // The error listener stays: a late EPIPE on a stream the CLI does not own must not crash the process.
    async close(): Promise<void> {},
  };
}
