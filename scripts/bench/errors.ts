/**
 * The benchmark's errors. `code` identifies the error permanently; the message may change.
 * A `NotRunError` is expected (a tool or the lsvd CLI is missing): the harness reports the
 * scenario as "not run: <reason>" and carries on.
 */

export type BenchErrorCode =
  | 'ERR_BENCH_TIMEOUT'
  | 'ERR_BENCH_PROCESS_EXITED'
  | 'ERR_BENCH_PROC_STATUS'
  | 'ERR_BENCH_FIO_OUTPUT'
  | 'ERR_BENCH_FIO_FAILED'
  | 'ERR_BENCH_COMMAND_FAILED'
  | 'ERR_BENCH_S3BACKER_STATS';

export class BenchError extends Error {
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string) {
    super(message);
    this.name = 'BenchError';
    this.code = code;
  }
}

export class NotRunError extends Error {
  readonly code = 'ERR_BENCH_NOT_RUN';

  constructor(reason: string) {
    super(reason);
    this.name = 'NotRunError';
  }
}
