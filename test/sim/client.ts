/**
 * The simulated NBD client: sends one request to the engine (the BlockDevice calls the NBD
 * server makes), keeps the model up to date with what was sent and answered, and checks
 * every read against the model. It also plays by the server's buffer rules: a write's
 * buffer is scribbled over once the write is answered (the server reuses it), a readInto
 * target starts with stale bytes (a reused reply buffer), and it is watched for writes
 * after its promise settled.
 */
import { SECTOR_SIZE_BYTES } from '../../logformat/limits.js';
import type { DaemonProcess } from './daemon-process.js';
import { codeOf, describe } from './error-text.js';
import type { VolumeModel } from './model.js';
import { decodeUnits, encodeUnits, UNIT_SIZE_BYTES, ZERO_VALUE } from './unit-pattern.js';
import { type Operation, sectorSpanOf, type Workload } from './workload.js';

/** What a reused reply buffer holds before a readInto: not zeros, not any write's pattern. */
const STALE_BUFFER_BYTE = 0xa5;

export interface ClientContext {
  readonly model: VolumeModel;
  readonly workload: Workload;
  nextWriteId(): number;
  violation(message: string): void;
  trace(message: string): void;
  /** A FLUSH (or close) answered success: objects 1..targetSequence must be stored. */
  auditFlush(process: DaemonProcess, targetSequence: number): void;
  /** Watches a buffer the engine must not write into any more. */
  watchBuffer(buffer: Uint8Array, what: string): void;
  /** Counts a read that failed with EIO after the store kept failing. */
  noteReadFailure(): void;
}

/** The reason an engine error is acceptable when the store kept failing a read. */
const EIO_REASON = 'EIO after the store kept failing';

/** Why an engine error is acceptable in the simulated situation, or undefined when it is a bug. */
function acceptableFailure(process: DaemonProcess, operation: Operation, error: unknown): string | undefined {
  const code = codeOf(error);
  // Known deviation (test/sim/known-bugs.test.ts): a read waiting on a GET retry when the
  // volume stops rejects with the sleeper's error instead of the volume's.
  if (error instanceof Error && error.name === 'SleepCancelledError' && (process.state === 'closing' || !process.alive)) return 'stopped during a read retry';
  if (error instanceof Error && error.name !== 'VolumeError') return undefined;
  if (code === 'ERR_VOLUME_ABANDONED' && !process.alive) return 'crashed';
  if (code === 'ERR_VOLUME_CLOSED' && (process.state === 'closing' || !process.alive)) return 'closed';
  if (code === 'ERR_VOLUME_FENCED' && process.store.conflictingKeys.size > 0) return 'fenced by another writer';
  // Reads, and the read-modify-write of partial sectors, read the store.
  const readsStore = operation.kind === 'read' || operation.offsetBytes % SECTOR_SIZE_BYTES !== 0 || operation.lengthBytes % SECTOR_SIZE_BYTES !== 0;
  if (code === 'ERR_VOLUME_READ_FAILED' && (readsStore || !process.alive)) return EIO_REASON;
  return undefined;
}

export async function executeOperation(context: ClientContext, process: DaemonProcess, operation: Operation): Promise<void> {
  const volume = process.volume;
  if (volume === undefined) throw new Error('a client request needs an open volume');
  const { model } = context;
  const label = `op #${operation.opId} ${operation.kind}${operation.fua ? ' FUA' : ''} ${operation.offsetBytes}+${operation.lengthBytes}`;
  const firstUnit = operation.offsetBytes / UNIT_SIZE_BYTES;
  const unitCount = operation.lengthBytes / UNIT_SIZE_BYTES;
  const fail = (error: unknown) => {
    const reason = acceptableFailure(process, operation, error);
    const detail = describe(error);
    if (reason === undefined) context.violation(`${label} on process ${process.processId} failed unexpectedly: ${detail}${error instanceof Error && error.stack !== undefined ? `\n${error.stack}` : ''}`);
    else if (reason === EIO_REASON) context.noteReadFailure();
    context.trace(`${label} failed (${reason ?? 'unexpected'}): ${detail}`);
  };
  process.requestsInFlight++;
  try {
    switch (operation.kind) {
      case 'write':
      case 'trim':
      case 'zero': {
        const writeId = operation.kind === 'write' ? context.nextWriteId() : ZERO_VALUE;
        const data = operation.kind === 'write' ? encodeUnits({ writeId, firstUnit, unitCount }) : undefined;
        const op = model.issue({ opId: operation.opId, value: writeId, firstUnit, unitCount, fua: operation.fua });
        const release = context.workload.hold(sectorSpanOf(operation));
        context.trace(`${label} sent (t${op.issueTick}${writeId === ZERO_VALUE ? '' : `, write ${writeId}`})`);
        try {
          if (data !== undefined) await volume.write(operation.offsetBytes, data, { fua: operation.fua });
          else if (operation.kind === 'trim') await volume.trim(operation.offsetBytes, operation.lengthBytes, { fua: operation.fua });
          else await volume.writeZeroes(operation.offsetBytes, operation.lengthBytes, { fua: operation.fua, noHole: operation.noHole });
          if (process.alive) model.acknowledge(op);
          context.trace(`${label} answered (t${op.ackTick})`);
        } catch (error) {
          if (process.alive) model.fail(op);
          fail(error);
        } finally {
          release();
          // The NBD server reuses a write's buffer once the write is answered.
          data?.fill(0xee);
        }
        return;
      }
      case 'read': {
        const issueTick = model.tick();
        let bytes: Uint8Array;
        try {
          if (operation.readInto) {
            // The NBD server reuses reply buffers: the engine must overwrite every byte, holes included.
            const target = new Uint8Array(operation.lengthBytes).fill(STALE_BUFFER_BYTE);
            try {
              await volume.readInto(operation.offsetBytes, target);
            } finally {
              context.watchBuffer(target, `the readInto target of ${label}`);
            }
            bytes = target;
          } else {
            bytes = await volume.read(operation.offsetBytes, operation.lengthBytes);
          }
        } catch (error) {
          fail(error);
          return;
        }
        if (!process.alive) return;
        const problem = model.checkRead({ issueTick, firstUnit, values: decodeUnits(bytes, firstUnit) });
        if (problem !== undefined) context.violation(`read-your-writes: ${label} (sent t${issueTick}, answered t${model.tick()}): ${problem}`);
        return;
      }
      case 'flush': {
        const issueTick = model.tick();
        const flushing = volume.flush();
        // flush() seals synchronously: this is the last object the FLUSH must wait for.
        const targetSequence = volume.stats().lastSealedSequence;
        context.trace(`${label} sent (t${issueTick}, through object ${targetSequence})`);
        try {
          await flushing;
        } catch (error) {
          fail(error);
          return;
        }
        if (!process.alive) return;
        model.flushed(issueTick);
        context.trace(`${label} answered`);
        context.auditFlush(process, targetSequence);
        return;
      }
      case 'restart':
        throw new Error('restart is the simulation’s to run');
    }
  } finally {
    process.requestsInFlight--;
  }
}
