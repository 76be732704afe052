/**
 * nbdkit's `memory` plugin: the reference NBD server of the NBD-path rows (DESIGN.md §8:
 * `nbdkit -U sock memory 1G`).
 */

import { join } from 'node:path';
import type { CleanupStack } from './cleanup.js';
import type { StartedProcess } from './processes.js';
import { startProcess, stopProcess, unixSocketAccepts, waitUntil } from './processes.js';

const NBDKIT_START_TIMEOUT_MS = 10_000;
const NBDKIT_STOP_TIMEOUT_MS = 10_000;

export interface RunningNbdServer {
  socketPath: string;
  process: StartedProcess;
}

export async function startNbdkitMemory(options: { workDirectory: string; sizeBytes: number; cleanup: CleanupStack }): Promise<RunningNbdServer> {
  const socketPath = join(options.workDirectory, 'nbdkit.sock');
  // -f: stay in the foreground as our child; --exit-with-parent: never outlive the harness.
  const started = startProcess({
    command: 'nbdkit',
    args: ['-f', '--exit-with-parent', '-U', socketPath, 'memory', `size=${options.sizeBytes}`],
    logPath: join(options.workDirectory, 'nbdkit.log'),
  });
  options.cleanup.defer('stop nbdkit', () => stopProcess(started, { signal: 'SIGTERM', timeoutMs: NBDKIT_STOP_TIMEOUT_MS }));
  await waitUntil({ what: 'nbdkit memory', condition: () => unixSocketAccepts(socketPath), timeoutMs: NBDKIT_START_TIMEOUT_MS, process: started });
  return { socketPath, process: started };
}
