/**
 * Runs the real program in a child process, `node --import tsx test/cli/entry.ts ...`, with
 * only the environment given (plus PATH), so exit codes and stdout/stderr are the process's own.
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CliRun } from './harness.js';

const ENTRY = fileURLToPath(new URL('./entry.ts', import.meta.url));
/** Generous: two cores shared with other test files, and S3 retries against a dead endpoint. */
const CHILD_TIMEOUT_MS = 45_000;

export function spawnLsvd(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CHILD_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === null) reject(new Error(`lsvd ${args.join(' ')} ended by ${signal}`));
      else resolve({ exitCode: code, stdout, stderr });
    });
  });
}
