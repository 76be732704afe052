/**
 * Runs the built `lsvd` program (bin/lsvd.js → dist/) as a child process, the way operators
 * run it: ready once its NBD socket accepts a connection; stopped with a signal.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { S3RVER_ACCESS_KEY_ID, S3RVER_REGION, S3RVER_SECRET_ACCESS_KEY } from '../../helpers/s3rver.js';

export const LSVD_BIN = fileURLToPath(new URL('../../../bin/lsvd.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 120_000;
const POLL_MS = 50;

export interface DaemonProcess {
  child: ChildProcess;
  socketPath: string;
  /** Everything the daemon wrote to stderr (its log) so far. */
  log(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** The environment of a daemon talking to s3rver: credentials the way AWS tools read them. */
export function s3Environment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
    AWS_REGION: S3RVER_REGION,
    LSVD_LOG_FORMAT: 'json',
  };
}

function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Starts `lsvd <args>`; with `waitForSocket`, resolves once the socket answers (or the process died). */
export async function startDaemon(options: { args: readonly string[]; socketPath: string; env?: NodeJS.ProcessEnv; waitForSocket?: boolean; waitForLog?: RegExp }): Promise<DaemonProcess> {
  if (!existsSync(fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url)))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
  const child = spawn(process.execPath, [LSVD_BIN, ...options.args], { env: options.env ?? s3Environment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let done = false;
  void exited.then(() => (done = true));
  const daemon: DaemonProcess = {
    child,
    socketPath: options.socketPath,
    log: () => log,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const ready = async (): Promise<boolean> => {
    if (options.waitForLog !== undefined) return options.waitForLog.test(log);
    return options.waitForSocket !== false && (await socketAccepts(options.socketPath));
  };
  if (options.waitForSocket === false && options.waitForLog === undefined) return daemon;
  while (!done && !(await ready())) {
    if (Date.now() > deadline) {
      await daemon.stop('SIGKILL');
      throw new Error(`lsvd did not become ready within ${READY_TIMEOUT_MS} ms:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (done && options.waitForLog === undefined && options.waitForSocket !== false && !(await ready())) {
    throw new Error(`lsvd exited (${await exited}) before its socket answered:\n${log}`);
  }
  return daemon;
}

/** The daemon's NDJSON log lines, parsed (pretty lines are skipped). */
export function logRecords(log: string): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
