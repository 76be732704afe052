/**
 * `lsvd export`: the image rebuilt from the log equals what was written through the engine,
 * byte for byte; a file is sparse; `--at` gives earlier images; `-` streams the same bytes;
 * the bucket never changes; bad outputs and corrupt objects fail with one line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { RealClock } from '../../daemon/clock.js';
import { exportImage, loadVolumeMap, type ImageSink } from '../../daemon/export.js';
import { formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { FileStore } from '../../store/file-store.js';
import type { ObjectStore } from '../../store/object-store.js';
import { S3Store } from '../../store/s3-store.js';
import { openTestVolume } from '../daemon/helpers/volumes.js';
import { differenceOf, KIB, MIB, pattern, silentLogger } from '../daemon/helpers/world.js';
import { S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, startS3rver } from '../helpers/s3rver.js';
import { runCli } from '../../cli/program.js';
import { errorLines, runLsvd } from './harness.js';

const VOLUME_SIZE_BYTES = 8 * MIB;

function temporaryDirectory(t: ExecutionContext): string {
  const directory = mkdtempSync(join(tmpdir(), 'lsvd-export-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/**
 * Writes a fixed history through the engine (writes of 512 B..48 KiB, trims, write-zeroes),
 * one flush per step; returns the image after each step and the last log object of each.
 */
async function writeHistory(store: ObjectStore, options: { sizeBytes?: number; steps?: number } = {}): Promise<{ states: Uint8Array[]; sequences: number[] }> {
  const sizeBytes = options.sizeBytes ?? VOLUME_SIZE_BYTES;
  const volume = await openTestVolume({ store, sizeBytes });
  const model = new Uint8Array(sizeBytes);
  const states = [model.slice()];
  const sequences = [0];
  for (let step = 1; step <= (options.steps ?? 5); step++) {
    for (let index = 0; index < 6; index++) {
      const offsetBytes = ((step * 131 + index * 977) % 1900) * 4 * KIB + (index === 2 ? 512 : 0);
      const data = pattern({ lengthBytes: index === 2 ? 1536 : (1 + ((step + index) % 12)) * 4 * KIB, tag: step * 100 + index });
      await volume.write(offsetBytes, data, { fua: false });
      model.set(data, offsetBytes);
    }
    const zeroOffsetBytes = step * 300 * KIB;
    if (step % 2 === 0) await volume.trim(zeroOffsetBytes, 64 * KIB, { fua: false });
    else await volume.writeZeroes(zeroOffsetBytes + 2 * KIB, 20 * KIB, { fua: false, noHole: false });
    model.fill(0, step % 2 === 0 ? zeroOffsetBytes : zeroOffsetBytes + 2 * KIB, step % 2 === 0 ? zeroOffsetBytes + 64 * KIB : zeroOffsetBytes + 22 * KIB);
    await volume.flush();
    states.push(model.slice());
    sequences.push(volume.stats().lastSealedSequence);
  }
  await volume.close();
  return { states, sequences };
}

async function fileVolume(t: ExecutionContext): Promise<{ directory: string; states: Uint8Array[]; sequences: number[] }> {
  const directory = temporaryDirectory(t);
  const store = await FileStore.open(join(directory, 'volume'));
  const history = await writeHistory(store);
  await store.close();
  return { directory, ...history };
}

/** Every key and its bytes, to prove a command changed nothing. */
async function contentsOf(store: ObjectStore): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  for await (const info of store.list()) contents.set(info.key, Buffer.from(await store.get(info.key)).toString('base64'));
  return contents;
}

test('export of a volume written through the engine equals the image byte for byte, as a sparse file', async (t) => {
  const { directory, states, sequences } = await fileVolume(t);
  const output = join(directory, 'image.raw');
  const run = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', output]);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, new RegExp(`through log object ${sequences.at(-1)} to ${output}: ${VOLUME_SIZE_BYTES} bytes`));
  t.is(differenceOf(new Uint8Array(await readFile(output)), states.at(-1)), undefined);
  const stats = await stat(output);
  t.is(stats.size, VOLUME_SIZE_BYTES, 'the file is exactly the volume size');
  t.true(stats.blocks * 512 < VOLUME_SIZE_BYTES / 4, `sparse: ${stats.blocks * 512} bytes allocated of ${VOLUME_SIZE_BYTES}`);
});

test('export --at gives the image as it was after each earlier log object, and --at 0 the empty volume', async (t) => {
  const { directory, states, sequences } = await fileVolume(t);
  for (const step of [0, 1, 3, 4]) {
    const output = join(directory, `image-${step}.raw`);
    const run = await runLsvd(['export', '--store', join(directory, 'volume'), '--at', String(sequences[step]), '--output', output]);
    t.is(run.exitCode, 0, run.stderr);
    t.is(differenceOf(new Uint8Array(await readFile(output)), states[step]), undefined, `step ${step} (through object ${sequences[step]})`);
  }
});

test('export --output - streams the same bytes to stdout, holes as zeros', async (t) => {
  const { directory, states } = await fileVolume(t);
  const entry = fileURLToPath(new URL('./entry.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry, 'export', '--store', join(directory, 'volume'), '--output', '-', '--log-level', 'warn'], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(exitCode, 0, stderr);
  t.is(differenceOf(new Uint8Array(Buffer.concat(chunks)), states.at(-1)), undefined);
});

test('export --output - into a pipe closed early fails with one line, not a crash', async (t) => {
  const { directory } = await fileVolume(t);
  const entry = fileURLToPath(new URL('./entry.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry, 'export', '--store', join(directory, 'volume'), '--output', '-', '--log-level', 'warn'], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.once('data', () => child.stdout.destroy());
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(exitCode, 1, stderr);
  t.deepEqual(errorLines(stderr), [errorLines(stderr).find((line) => /\[ERR_EXPORT_OUTPUT_FAILED\]$/.test(line))]);
});

test('on a terminal, export draws a progress bar of the data bytes on stderr', async (t) => {
  const { directory } = await fileVolume(t);
  let stderr = '';
  const exitCode = await runCli({
    argv: ['node', 'lsvd', 'export', '--store', join(directory, 'volume'), '--output', join(directory, 'image.raw'), '--log-level', 'warn'],
    io: { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, env: {}, cwd: directory, stderrIsTty: true },
  });
  t.is(exitCode, 0, stderr);
  t.regex(stderr, /\rexporting \[#{30}\]  \d+\.\d \/ \d+\.\d MiB  100%\n$/);
});

test('a streamed export writes every window in address order within a small in-flight budget', async (t) => {
  const { directory, states } = await fileVolume(t);
  const store = await FileStore.open(join(directory, 'volume'));
  t.teardown(() => store.close());
  const clock = new RealClock();
  const { map } = await loadVolumeMap({ store, logger: silentLogger(), clock });
  const received = new Uint8Array(VOLUME_SIZE_BYTES);
  let nextOffsetBytes = 0;
  const sink: ImageSink = {
    sequential: true,
    async write(offsetBytes, data) {
      t.is(offsetBytes, nextOffsetBytes);
      received.set(data, offsetBytes);
      nextOffsetBytes += data.byteLength;
    },
  };
  const result = await exportImage({ store, clock, map, sink, inFlightBytesMax: 8 * MIB });
  t.is(result.writtenBytes, VOLUME_SIZE_BYTES);
  t.is(nextOffsetBytes, VOLUME_SIZE_BYTES);
  t.is(differenceOf(received, states.at(-1)), undefined);
});

test('a large sparse volume exports quickly, writing only its data', async (t) => {
  const directory = temporaryDirectory(t);
  const store = await FileStore.open(join(directory, 'volume'));
  const sizeBytes = 64 * 1024 * MIB;
  const volume = await openTestVolume({ store, sizeBytes });
  const writes = [0, 10 * 1024 * MIB + 4 * KIB, 33 * 1024 * MIB - 8 * MIB, sizeBytes - 4 * KIB].map((offsetBytes, index) => ({ offsetBytes, data: pattern({ lengthBytes: 4 * KIB, tag: index + 1 }) }));
  for (const { offsetBytes, data } of writes) await volume.write(offsetBytes, data, { fua: false });
  await volume.close();
  await store.close();
  const output = join(directory, 'image.raw');
  const run = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', output]);
  t.is(run.exitCode, 0, run.stderr);
  const stats = await stat(output);
  t.is(stats.size, sizeBytes);
  t.true(stats.blocks * 512 <= 1 * MIB, `${stats.blocks * 512} bytes allocated`);
  const image = await open(output, 'r');
  t.teardown(() => image.close());
  const readAt = async (offsetBytes: number, lengthBytes: number): Promise<Uint8Array> => {
    const bytes = new Uint8Array(lengthBytes);
    const { bytesRead } = await image.read(bytes, 0, lengthBytes, offsetBytes);
    return bytes.subarray(0, bytesRead);
  };
  for (const { offsetBytes, data } of writes) t.is(differenceOf(await readAt(offsetBytes, data.byteLength), data), undefined, `data at ${offsetBytes}`);
  t.true((await readAt(4 * KIB, 8 * MIB)).every((byte) => byte === 0), 'the space between reads as zeros');
});

test('export refuses to overwrite a non-empty file unless --force, and accepts an empty one', async (t) => {
  const { directory, states } = await fileVolume(t);
  const output = join(directory, 'image.raw');
  await writeFile(output, 'precious');
  const refused = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', output]);
  t.is(refused.exitCode, 1);
  t.deepEqual(errorLines(refused.stderr).length, 1);
  t.regex(refused.stderr, /already exists.*--force.*\[ERR_EXPORT_OUTPUT_EXISTS\]/);
  t.is(await readFile(output, 'utf8'), 'precious');
  const forced = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', output, '--force']);
  t.is(forced.exitCode, 0, forced.stderr);
  t.is(differenceOf(new Uint8Array(await readFile(output)), states.at(-1)), undefined);
  await truncate(output, 0);
  const intoEmpty = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', output]);
  t.is(intoEmpty.exitCode, 0, intoEmpty.stderr);
  const toDirectory = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', directory]);
  t.is(toDirectory.exitCode, 1);
  t.regex(toDirectory.stderr, /\[ERR_EXPORT_OUTPUT_INVALID\]/);
});

test('export replays only the gap-free prefix, rejects --at past it, and changes nothing in the bucket', async (t) => {
  const { directory, states, sequences } = await fileVolume(t);
  const store = await FileStore.open(join(directory, 'volume'));
  t.teardown(() => store.close());
  // Remove the first object of step 3: steps 3..5 are now after a gap.
  const missing = (sequences[2] ?? 0) + 1;
  await store.delete(formatLogKey(missing));
  const before = await contentsOf(store);
  const output = join(directory, 'image.raw');
  const run = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', output]);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, new RegExp(`through log object ${sequences[2]} `));
  t.regex(run.stderr, /left in place: read-only/);
  t.is(differenceOf(new Uint8Array(await readFile(output)), states[2]), undefined);
  const past = await runLsvd(['export', '--store', join(directory, 'volume'), '--at', String(missing + 1), '--output', join(directory, 'other.raw')]);
  t.is(past.exitCode, 1);
  t.regex(past.stderr, /\[ERR_RECOVERY_TARGET_INVALID\]/);
  t.deepEqual(await contentsOf(store), before, 'no key was archived, added or changed');
});

test('a corrupt object in the prefix fails the export with one line naming it and the rollback way out', async (t) => {
  const { directory, sequences } = await fileVolume(t);
  const key = formatLogKey((sequences[3] ?? 0) + 0);
  await truncate(join(directory, 'volume', key), 12_288 + 4096 - 100);
  const run = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', join(directory, 'image.raw')]);
  t.is(run.exitCode, 1);
  const lines = errorLines(run.stderr);
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0] ?? '', new RegExp(`${key}.*lsvd rollback --to ${(sequences[3] ?? 0) - 1}.*\\[ERR_RECOVERY_CORRUPT_OBJECT\\]`));
});

test('export from s3rver over the S3 API equals the image, trims and write-zeroes included', async (t) => {
  const server = await startS3rver();
  t.teardown(() => server.close());
  const store = new S3Store(server.storeConfig('vol1/'));
  const { states } = await writeHistory(store, { steps: 3 });
  await store.close();
  const directory = temporaryDirectory(t);
  const output = join(directory, 'image.raw');
  const env = { AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY };
  const run = await runLsvd(['export', '--store', `s3://${server.bucket}/vol1/`, '--endpoint', server.endpoint, '--output', output], { env });
  t.is(run.exitCode, 0, run.stderr);
  t.is(differenceOf(new Uint8Array(await readFile(output)), states.at(-1)), undefined);
  t.false(run.stderr.includes(S3RVER_SECRET_ACCESS_KEY + '"'), 'no secret in the output');
});

test('export without a volume descriptor says there is no volume', async (t) => {
  const directory = temporaryDirectory(t);
  const store = await FileStore.open(join(directory, 'volume'));
  await store.put(formatZeroRangesKey(1), new Uint8Array(0));
  await store.close();
  const run = await runLsvd(['export', '--store', join(directory, 'volume'), '--output', join(directory, 'image.raw')]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /no volume\.json.*\[ERR_VOLUME_DESCRIPTOR_MISSING\]/);
});
