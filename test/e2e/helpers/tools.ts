/** Real NBD clients and system tools, run as child processes with a bounded time. */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const TOOL_TIMEOUT_MS = 300_000;

export async function run(command: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const { stdout } = await execFileAsync(command, [...args], {
    timeout: options.timeoutMs ?? TOOL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  return stdout;
}

export function nbdUri(socketPath: string, exportName = 'lsvd'): string {
  return `nbd+unix:///${exportName}?socket=${socketPath}`;
}

/** Whether a tool is on PATH; in CI a missing tool is a failure, not a skip. */
export async function haveTool(command: string): Promise<boolean> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    if (process.env['CI'] !== undefined) throw new Error(`${command} is missing: scripts/install-debian-packages.sh installs it`);
    return false;
  }
}
