import test from 'ava';
import { MemoryDevice } from '../../nbd/memory-device.js';
import { runFuzz } from './fuzz-engine.js';
import { startTestServer } from './helpers.js';

const SIZE_BYTES = 64 * 1024 * 1024;
/** Enough cases for ~20 s on a 2-core machine; the long run is test/nbd/fuzz-long.ts. */
const CASES = Number(process.env['NBD_FUZZ_CASES'] ?? 20_000);

test('random and mutated byte streams never crash the server, and a separate connection keeps working (seeded)', async (t) => {
  const seed = Number(process.env['NBD_TEST_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (replay with NBD_TEST_SEED=${seed})`);
  const server = await startTestServer({ device: new MemoryDevice({ sizeBytes: SIZE_BYTES }) });
  const startedMs = performance.now();
  try {
    const result = await runFuzz({
      socketPath: server.socketPath,
      sizeBytes: SIZE_BYTES,
      seed,
      cases: CASES,
      concurrency: 8,
      checkEvery: 250,
      checkOffsetBytes: SIZE_BYTES - 4096,
    });
    t.log(`${result.casesRun} cases in ${((performance.now() - startedMs) / 1000).toFixed(1)} s: ${JSON.stringify(result.byKind)}`);
    t.is(result.casesRun, CASES);
    const sessions = server.logger.records.filter((record) => record.message === 'transmission started').length;
    const refused = server.logger.records.filter((record) => record.level === 'debug' && record.object['errno'] !== undefined).length;
    const violations = server.logger.records.filter((record) => record.message === 'closing connection: protocol violation').length;
    t.log(`${sessions} sessions reached transmission, ${refused} requests refused`);
    t.log(`${violations} connections closed for protocol violations`);
    const errors = server.logger.records.filter((record) => record.level === 'error');
    t.deepEqual(errors, [], 'no internal error was logged');
    t.true(server.logger.records.some((record) => record.message === 'transmission started'), 'some cases reached transmission');
  } finally {
    await server.close();
  }
  t.is(server.server.connectionCount, 0);
});
