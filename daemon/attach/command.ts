/**
 * Runs one external tool with a bounded time and turns every way it can fail into an
 * AttachError that names the command line, its exit status and its last stderr lines.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { AttachError } from './errors.js';
import { KILL_GRACE_MS, OUTPUT_CAPTURE_MAX_BYTES, STDERR_TAIL_LINES_MAX } from './limits.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunCommandOptions {
  command: string;
  args: readonly string[];
  timeoutMs: number;
  /** Exit statuses that mean success for this tool (blkid -p answers 2 for "nothing found"). */
  okExitCodes?: readonly number[];
}

/** The command line as a person would type it, for logs and errors. */
export function describeCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)).join(' ');
}

export function lastLines(text: string, countMax: number = STDERR_TAIL_LINES_MAX): string[] {
  return text.split('\n').map((line) => line.trimEnd()).filter((line) => line.length > 0).slice(-countMax);
}

/** The message of a failed command: what ran, how it ended, what it said last. */
export function failureMessage(commandLine: string, ending: string, stderrTail: readonly string[]): string {
  const said = stderrTail.length > 0 ? `: ${stderrTail.join(' | ')}` : '';
  return `Command "${commandLine}" ${ending}${said}`;
}

/** Keeps the first (stdout) or the last (stderr) bytes of a stream, within a bound. */
class CapturedText {
  #text = '';
  readonly #keep: 'head' | 'tail';
  constructor(keep: 'head' | 'tail') {
    this.#keep = keep;
  }
  append(chunk: Buffer): void {
    this.#text += chunk.toString('utf8');
    if (this.#text.length > OUTPUT_CAPTURE_MAX_BYTES) {
      this.#text = this.#keep === 'head' ? this.#text.slice(0, OUTPUT_CAPTURE_MAX_BYTES) : this.#text.slice(-OUTPUT_CAPTURE_MAX_BYTES);
    }
  }
  get text(): string {
    return this.#text;
  }
}

export async function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  assert(options.timeoutMs > 0, 'a command needs a positive timeout');
  const okExitCodes = options.okExitCodes ?? [0];
  const commandLine = describeCommand(options.command, options.args);
  return new Promise<CommandResult>((resolve, reject) => {
    // LC_ALL=C: the stderr lines we report and match ("target is busy") stay in English.
    const child = spawn(options.command, options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const stdout = new CapturedText('head');
    const stderr = new CapturedText('tail');
    child.stdout.on('data', (chunk: Buffer) => stdout.append(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.append(chunk));
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      action();
    };
    // A child stuck in the kernel (umount of a dead FUSE mount) may never exit: reject at the
    // deadline without waiting for it, and escalate to SIGKILL in the background.
    const timer = setTimeout(() => {
      const stderrTail = lastLines(stderr.text);
      settle(() => reject(new AttachError('ERR_ATTACH_COMMAND_TIMEOUT',
        failureMessage(commandLine, `did not finish within ${options.timeoutMs} ms`, stderrTail),
        { command: commandLine, exitCode: null, stderrTail })));
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    }, options.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      const notFound = error.code === 'ENOENT';
      settle(() => reject(new AttachError(notFound ? 'ERR_ATTACH_COMMAND_NOT_FOUND' : 'ERR_ATTACH_COMMAND_FAILED',
        failureMessage(commandLine, notFound ? 'cannot run: not installed' : `cannot run: ${error.message}`, []),
        { command: commandLine, exitCode: null })));
    });
    child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (exitCode !== null && okExitCodes.includes(exitCode)) {
        settle(() => resolve({ stdout: stdout.text, stderr: stderr.text, exitCode }));
        return;
      }
      const stderrTail = lastLines(stderr.text);
      const ending = exitCode === null ? `died of ${signal ?? 'a signal'}` : `exited with status ${exitCode}`;
      settle(() => reject(new AttachError('ERR_ATTACH_COMMAND_FAILED', failureMessage(commandLine, ending, stderrTail),
        { command: commandLine, exitCode, stderrTail })));
    });
  });
}
