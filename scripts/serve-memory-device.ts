/**
 * Serves an in-memory device over NBD: the lsvd side of the NBD-path benchmark, and a
 * handy target for trying NBD clients by hand.
 *
 *   node --import tsx scripts/serve-memory-device.ts --socket /tmp/mem.sock --size-bytes 1073741824
 *
 * Prints one line `ready <socket>` on stdout once listening; SIGTERM/SIGINT close cleanly.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { MemoryDevice } from '../nbd/memory-device.js';
import { NbdServer } from '../nbd/server.js';

const DEFAULT_SIZE_BYTES = 1024 * 1024 * 1024;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      socket: { type: 'string' },
      'tcp-port': { type: 'string' },
      'size-bytes': { type: 'string', default: String(DEFAULT_SIZE_BYTES) },
      'export-name': { type: 'string', default: 'memory' },
      'read-only': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
    },
  });
  const sizeBytes = Number(values['size-bytes']);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0) {
    throw new Error(`--size-bytes must be a positive multiple of 512, got "${values['size-bytes']}"`);
  }
  if (values.socket === undefined && values['tcp-port'] === undefined) throw new Error('give --socket or --tcp-port');
  const logger = pino({ level: values['log-level'] }, pino.destination(2));
  const device = new MemoryDevice({ sizeBytes, readOnly: values['read-only'] });
  const server = new NbdServer({ device, exportName: values['export-name'], description: 'lsvd memory device', logger });
  if (values.socket !== undefined) await server.listenUnix(values.socket);
  let endpoint = values.socket ?? '';
  if (values['tcp-port'] !== undefined) {
    const { port } = await server.listenTcp({ port: Number(values['tcp-port']) });
    endpoint ||= `127.0.0.1:${port}`;
  }
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`ready ${endpoint}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`serve-memory-device: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
