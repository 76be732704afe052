/**
 * fio's nbd engine (libnbd) driving deep queues of mixed-size random I/O with checksums.
 */
import type { BlockDevice, WriteOptions, WriteZeroesOptions } from '../../nbd/block-device.js';
import { MemoryDevice } from '../../nbd/memory-device.js';
import { run, startTestServer, testWithTools } from './helpers.js';

const SIZE_BYTES = 64 * 1024 * 1024;
const fioTest = testWithTools(['fio'], { serial: true });

function fioArgs(uri: string, readWrite: string): string[] {
  return [
    '--name=verify',
    '--ioengine=nbd',
    `--uri=${uri}`,
    `--rw=${readWrite}`,
    '--bssplit=4k/40:16k/20:64k/20:1m/20',
    '--iodepth=64',
    '--size=64M',
    '--verify=crc32c',
    '--verify_fatal=1',
    '--verify_state_save=0', // no state file left in the working directory on failure
    '--output-format=json',
  ];
}

interface FioReport {
  jobs: Array<{ error: number; read: { io_bytes: number }; write: { io_bytes: number } }>;
}

function parseReport(stdout: string): FioReport {
  return JSON.parse(stdout.slice(stdout.indexOf('{'))) as FioReport;
}

fioTest('fio randrw with mixed block sizes at queue depth 64 verifies every block with crc32c', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    for (const readWrite of ['randrw', 'randwrite']) {
      const { code, stdout, stderr } = await run('fio', fioArgs(server.uri, readWrite), { timeoutMs: 60_000 });
      t.is(code, 0, stderr);
      const [job] = parseReport(stdout).jobs;
      t.is(job?.error, 0);
      t.true((job?.write.io_bytes ?? 0) > 0 && (job?.read.io_bytes ?? 0) > 0, `${readWrite} wrote and read back`);
    }
  } finally {
    await server.close();
  }
});

/** Returns wrong data for one read in seven: the verify above must notice it. */
class CorruptingDevice implements BlockDevice {
  readonly inner = new MemoryDevice({ sizeBytes: SIZE_BYTES });
  readonly sizeBytes = SIZE_BYTES;
  readonly readOnly = false;
  #reads = 0;

  async read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    const data = await this.inner.read(offsetBytes, lengthBytes);
    this.#reads += 1;
    if (this.#reads % 7 === 0) data[lengthBytes - 1] = (data[lengthBytes - 1] ?? 0) ^ 0xff;
    return data;
  }
  write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    return this.inner.write(offsetBytes, data, options);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  trim(offsetBytes: number, lengthBytes: number, options: WriteOptions): Promise<void> {
    return this.inner.trim(offsetBytes, lengthBytes, options);
  }
  writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions): Promise<void> {
    return this.inner.writeZeroes(offsetBytes, lengthBytes, options);
  }
}

fioTest('the same fio verify fails against a device that corrupts reads', async (t) => {
  const server = await startTestServer({ device: new CorruptingDevice() });
  try {
    const { code } = await run('fio', fioArgs(server.uri, 'randrw'), { timeoutMs: 60_000 });
    t.not(code, 0);
  } finally {
    await server.close();
  }
});
