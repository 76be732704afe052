/**
 * Child processes for the benchmark: start with output kept in a log file, wait for a socket or a
 * line, stop with a deadline, read memory use from /proc. Every wait is bounded.
 */

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError } from './errors.js';

/** How often readiness is polled: short next to any start-up worth measuring. */
export const READINESS_POLL_INTERVAL_MS = 10;

export interface StartedProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Where stdout and stderr go, for the report when something fails. */
  logPath: string;
}

export function startProcess(options: {
  command: string;
  args: readonly string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each stdout line, e.g. to learn a port the process prints. */
  onStdoutLine?: (line: string) => void;
}): StartedProcess {
  mkdirSync(dirname(options.logPath), { recursive: true });
  const log = createWriteStream(options.logPath, { flags: 'a' });
  log.write(`$ ${options.command} ${options.args.join(' ')}\n`);
  const child = spawn(options.command, options.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
  });
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      options.onStdoutLine?.(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  // A process that fails to spawn rejects `exited`; callers that never await it must not crash.
  exited.catch(() => undefined);
  return { child, pid: child.pid ?? -1, exited, logPath: options.logPath };
}

/** Rejects if the process exits or the deadline passes before `condition` holds. */
export async function waitUntil(options: {
  what: string;
  condition: () => Promise<boolean> | boolean;
  timeoutMs: number;
  process?: StartedProcess;
}): Promise<void> {
  const deadlineMs = performance.now() + options.timeoutMs;
  let exitedWith: number | string | undefined;
  void options.process?.exited.then(
    (code) => (exitedWith = code),
    (error: unknown) => (exitedWith = String(error)),
  );
  for (;;) {
    if (await options.condition()) {
      return;
    }
    if (exitedWith !== undefined) {
      throw new BenchError('ERR_BENCH_PROCESS_EXITED', `${options.what}: the process exited (${exitedWith}); see ${options.process?.logPath}`);
    }
    if (performance.now() > deadlineMs) {
      throw new BenchError('ERR_BENCH_TIMEOUT', `${options.what}: not ready after ${options.timeoutMs} ms`);
    }
    await sleep(READINESS_POLL_INTERVAL_MS);
  }
}

/** True once a connection to the Unix socket is accepted (it is then closed at once). */
export async function unixSocketAccepts(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends `signal`, then SIGKILL after `timeoutMs`; resolves with how the process ended. */
export async function stopProcess(started: StartedProcess, options: { signal: NodeJS.Signals; timeoutMs: number }): Promise<number | string> {
  if (started.child.exitCode !== null || started.child.signalCode !== null) {
    return started.exited;
  }
  started.child.kill(options.signal);
  // The deadline's timer is cancelled once the process exits, so it never holds the event loop open.
  const deadline = new AbortController();
  const outcome = await Promise.race([
    started.exited,
    sleep(options.timeoutMs, 'timeout' as const, { signal: deadline.signal }).catch(() => 'cancelled' as const),
  ]);
  deadline.abort();
  if (outcome === 'timeout') {
    started.child.kill('SIGKILL');
    await started.exited;
    throw new BenchError('ERR_BENCH_TIMEOUT', `pid ${started.pid} did not stop within ${options.timeoutMs} ms of ${options.signal}; killed`);
  }
  return outcome;
}

export interface ProcessMemory {
  /** VmRSS: resident memory now. */
  rssBytes: number;
  /** VmHWM: the largest resident memory so far. */
  peakRssBytes: number;
}

/** proc(5) /proc/<pid>/status: `VmRSS:   123456 kB` (the kernel's kB are KiB). */
export function parseProcStatusMemory(status: string): ProcessMemory {
  const kibibytes = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match?.[1] === undefined) {
      throw new BenchError('ERR_BENCH_PROC_STATUS', `no ${field} line in /proc/<pid>/status`);
    }
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kibibytes('VmRSS'), peakRssBytes: kibibytes('VmHWM') };
}

export async function readProcessMemory(pid: number): Promise<ProcessMemory> {
  return parseProcStatusMemory(await readFile(`/proc/${pid}/status`, 'utf8'));
}

export interface CommandResult {
  exitCode: number | string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Commands `runCommand` is waiting for, so that an interrupted benchmark can end them first. */
const runningCommands = new Set<ChildProcess>();

/** SIGKILLs every command still running (fio, mostly): for SIGINT, before undoing mounts and daemons. */
export function killRunningCommands(): void {
  for (const child of runningCommands) {
    child.kill('SIGKILL');
  }
}

/** Runs a command to completion (killed at `timeoutMs`), collecting its output. */
export async function runCommand(options: { command: string; args: readonly string[]; timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<CommandResult> {
  const startedMs = performance.now();
  const child = spawn(options.command, options.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  runningCommands.add(child);
  let code: number | null;
  let signal: NodeJS.Signals | null;
  try {
    [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  } finally {
    runningCommands.delete(child);
  }
  return {
    exitCode: code ?? signal ?? 'unknown',
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
    durationMs: performance.now() - startedMs,
  };
}
