/**
 * The long fuzz run (not part of `npm test`):
 *
 *   node --import tsx test/nbd/fuzz-long.ts --cases 100000 [--seed 1234] [--concurrency 8]
 *
 * Exits non-zero, printing the seed, if the server ever fails to close a connection, fails
 * a health check, or logs an internal error.
 */
import { parseArgs } from 'node:util';
import { MemoryDevice } from '../../nbd/memory-device.js';
import { runFuzz } from './fuzz-engine.js';
import { startTestServer } from './fixtures.js';

const SIZE_BYTES = 64 * 1024 * 1024;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '100000' },
      seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
      concurrency: { type: 'string', default: '8' },
    },
  });
  const seed = Number(values.seed);
  const cases = Number(values.cases);
  process.stdout.write(`fuzzing ${cases} cases with seed ${seed}\n`);
  const server = await startTestServer({ device: new MemoryDevice({ sizeBytes: SIZE_BYTES }) });
  const startedMs = performance.now();
  try {
    const result = await runFuzz({
      socketPath: server.socketPath,
      sizeBytes: SIZE_BYTES,
      seed,
      cases,
      concurrency: Number(values.concurrency),
      checkEvery: 1000,
      checkOffsetBytes: SIZE_BYTES - 4096,
      onProgress: (done) => process.stdout.write(`${done} cases, ${((performance.now() - startedMs) / 1000).toFixed(0)} s\n`),
    });
    const errors = server.logger.records.filter((record) => record.level === 'error');
    if (errors.length > 0) throw new Error(`internal errors were logged: ${JSON.stringify(errors.slice(0, 5))}`);
    process.stdout.write(`ok: ${result.casesRun} cases ${JSON.stringify(result.byKind)}\n`);
  } finally {
    await server.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fuzz-long failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
