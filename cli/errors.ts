/**
 * The CLI's one error type and the one mapping from any error to an exit code and a single
 * line for stderr. Exit codes (docs/CLI.md): 0 success, 1 runtime failure (store unreachable,
 * corrupt object), 2 usage or configuration error.
 */

import { CommanderError } from 'commander';
import { LogFormatError } from '../logformat/errors.js';
import { StoreError } from '../store/errors.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME_FAILURE = 1;
export const EXIT_USAGE = 2;
export type ExitCode = typeof EXIT_OK | typeof EXIT_RUNTIME_FAILURE | typeof EXIT_USAGE;

export type CliErrorCode =
  /** A flag, argument or environment variable is missing, malformed or contradictory. */
  | 'ERR_CLI_USAGE'
  /** A local file named on the command line cannot be read. */
  | 'ERR_CLI_FILE_UNREADABLE'
  /** The file store's directory does not exist (the operator tools never create one). */
  | 'ERR_CLI_STORE_MISSING'
  /** The log object asked for does not exist. */
  | 'ERR_CLI_OBJECT_MISSING'
  /** The command ran, and found objects it could not decode (already reported). */
  | 'ERR_CLI_CORRUPT_OBJECTS';

const EXIT_CODE_BY_CLI_ERROR: Readonly<Record<CliErrorCode, ExitCode>> = {
  ERR_CLI_USAGE: EXIT_USAGE,
  ERR_CLI_FILE_UNREADABLE: EXIT_RUNTIME_FAILURE,
  ERR_CLI_STORE_MISSING: EXIT_RUNTIME_FAILURE,
  ERR_CLI_OBJECT_MISSING: EXIT_RUNTIME_FAILURE,
  ERR_CLI_CORRUPT_OBJECTS: EXIT_RUNTIME_FAILURE,
};

export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: ExitCode;

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = EXIT_CODE_BY_CLI_ERROR[code];
  }
}

export function usageError(message: string): CliError {
  return new CliError('ERR_CLI_USAGE', message);
}

/** Commander's own exits: usage errors it already printed, and help and version (exit code 0). */
export function isCommanderError(error: unknown): error is CommanderError {
  return error instanceof CommanderError;
}

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (isCommanderError(error)) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  return EXIT_RUNTIME_FAILURE;
}

/**
 * One line for stderr, with the permanent code when the error has one. Unexpected errors keep
 * their message too: the operator needs it, and the stack is in the debug log.
 */
export function errorLine(error: unknown): string {
  if (error instanceof CliError || error instanceof LogFormatError || error instanceof StoreError) {
    return `error: ${oneLine(error.message)} [${error.code}]`;
  }
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  // Every module's typed errors carry a permanent ERR_* code (RecoveryError, VolumeError, NbdError, ...).
  if (typeof code === 'string' && code.startsWith('ERR_') && error instanceof Error) return `error: ${oneLine(error.message)} [${code}]`;
  if (error instanceof Error) return `error: unexpected failure: ${oneLine(error.message)}`;
  return `error: unexpected failure: ${oneLine(String(error))}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Replaces every occurrence of each secret with `***`, so no output path can leak one. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret.length > 0) redacted = redacted.split(secret).join('***');
  }
  return redacted;
}
