/** How the simulator describes and classifies the errors the engine hands it. */
import { classifyKey } from '../../logformat/keys.js';

/** `CODE: message` for an error with a code, the message otherwise. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return `${'code' in error ? `${String(error.code)}: ` : ''}${error.message}`;
}

export function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** Start-up failures a supervisor's restart may fix: the store kept failing. */
export function isRestartable(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && 'retryable' in error && error.retryable === true) return true;
  return codeOf(error) === 'ERR_RECOVERY_STORE_FAILED';
}

/** The sequence number a log object or companion key is about. */
export function sequenceOfKey(key: string): number | undefined {
  const kind = classifyKey(key);
  return kind.kind === 'log' || kind.kind === 'zero-ranges' ? kind.sequence : undefined;
}
