/**
 * The one logger (pino): NDJSON on stderr by default, pino-pretty when stderr is a terminal or
 * when asked. stdout stays free for command output. Writes are synchronous so nothing is lost
 * when the CLI exits.
 */

import type { Command } from 'commander';
import { pino } from 'pino';
import type { DestinationStream, Level, Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { usageError } from './errors.js';
import { ENVIRONMENT_VARIABLES } from './config.js';
import type { Environment } from './config.js';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = Level | 'silent';
export type { Logger } from 'pino';

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** Credentials never reach a log line, whatever object a caller logs. */
const REDACTED_PATHS = [
  'secretAccessKey',
  'sessionToken',
  'credentials',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.credentials',
  'config.store.credentials',
];

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Default: stderr (fd 2). */
  destination?: DestinationStream;
}

/** Where log lines go; default stderr (fd 2). */
function destinationOf(options: LoggerOptions): DestinationStream {
  return options.destination ?? pino.destination({ fd: 2, sync: true });
}

export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  const destination = destinationOf(options);
  if (options.format === 'json') return pino(pinoOptions, destination);
  // prettyFactory formats each line synchronously, so nothing is queued when the CLI exits.
  const prettify = prettyFactory({
    colorize: options.destination === undefined && process.stderr.isTTY === true,
    translateTime: 'SYS:standard',
    ignore: 'pid,hostname',
  });
  return pino(pinoOptions, { write: (line: string) => destination.write(prettify(line)) });
}

export interface LoggingFlags {
  logLevel?: string | undefined;
  logFormat?: string | undefined;
}

export function addLoggingOptions(command: Command): Command {
  return command
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (env ${ENVIRONMENT_VARIABLES.logLevel}; default ${DEFAULT_LOG_LEVEL})`)
    .option('--log-format <format>', `json or pretty (env ${ENVIRONMENT_VARIABLES.logFormat}; default pretty on a terminal, else json)`);
}

export function buildLoggerOptions(options: { flags: LoggingFlags; env: Environment; stderrIsTty: boolean }): Readonly<LoggerOptions> {
  const { flags, env } = options;
  const level = flags.logLevel ?? (env[ENVIRONMENT_VARIABLES.logLevel] || undefined) ?? DEFAULT_LOG_LEVEL;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw usageError(`log level ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const format = flags.logFormat ?? (env[ENVIRONMENT_VARIABLES.logFormat] || undefined) ?? (options.stderrIsTty ? 'pretty' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw usageError(`log format ${JSON.stringify(format)} is not json or pretty`);
  }
  return Object.freeze({ level: level as LogLevel, format: format as LogFormat });
}
