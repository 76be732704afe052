/**
 * s3rver behind the latency- and fault-injecting proxy (scripts/s3-proxy.ts), a daemon
 * pointed at the proxy, and NBD clients run in the background so a test can watch whether a
 * write or a FLUSH is still waiting.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Proxy, type ProxyFaults, type S3Proxy } from '../../../scripts/s3-proxy.js';
import { startS3rver, type S3rverInstance } from '../../helpers/s3rver.js';

/** Background tools are killed after this long: no test waits on one for more. */
const BACKGROUND_TOOL_TIMEOUT_MS = 600_000;

export interface FaultyS3 {
  s3: S3rverInstance;
  proxy: S3Proxy;
  directory: string;
  socketPath: string;
  /** `lsvd run` on the volume `faults/` in s3rver, reached through the proxy, serving NBD only. */
  runArgs(options: { volumeSizeBytes: number; extra?: readonly string[] }): string[];
}

export async function withFaultyS3<T>(
  options: { seed: number; faults?: ProxyFaults; latencyMs?: number; jitterMs?: number },
  use: (environment: FaultyS3) => Promise<T>,
): Promise<T> {
  const s3 = await startS3rver();
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-faults-'));
  let proxy: S3Proxy | undefined;
  try {
    proxy = await startS3Proxy({ upstream: s3.endpoint, latencyMs: options.latencyMs ?? 0, jitterMs: options.jitterMs ?? 0, seed: options.seed, faults: options.faults ?? {} });
    const endpoint = proxy.endpoint;
    const socketPath = join(directory, 'nbd.sock');
    return await use({
      s3,
      proxy,
      directory,
      socketPath,
      runArgs: ({ volumeSizeBytes, extra = [] }) => ['run', '--store', `s3://${s3.bucket}/faults/`, '--endpoint', endpoint, '--size', String(volumeSizeBytes),
        '--attach', 'none', '--socket', socketPath, '--run-dir', directory, ...extra],
    });
  } finally {
    await proxy?.close();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
}

export interface ToolResult {
  exitCode: number | null;
  output: string;
  /** Milliseconds from the start of the tool to its exit. */
  elapsedMs: number;
  /** When it exited (Date.now()). */
  endedAtMs: number;
}

export interface BackgroundTool {
  /** Settles when the tool exits (never rejects). */
  exited: Promise<ToolResult>;
  running(): boolean;
  kill(): void;
}

/** Runs a tool without waiting for it; stdout and stderr are kept together, in order. */
export function startBackgroundTool(command: string, args: readonly string[]): BackgroundTool {
  const startedMs = Date.now();
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let done = false;
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), BACKGROUND_TOOL_TIMEOUT_MS);
  const exited = new Promise<ToolResult>((resolve) => {
    const finish = (exitCode: number | null): void => {
      done = true;
      clearTimeout(timer);
      const endedAtMs = Date.now();
      resolve({ exitCode, output, elapsedMs: endedAtMs - startedMs, endedAtMs });
    };
    child.once('error', (error) => {
      output += String(error);
      finish(null);
    });
    child.once('close', (exitCode) => finish(exitCode));
  });
  return {
    exited,
    running: () => !done,
    kill: () => {
      if (!done) child.kill('SIGKILL');
    },
  };
}

/** Warning lines (pino level 40) in a stretch of NDJSON log; a line still being written is not counted. */
export function warningLines(logText: string): string[] {
  return logText.split('\n').filter((line) => line.startsWith('{"level":40,'));
}
