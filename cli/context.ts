/**
 * What a command runs against: its output streams, environment and working directory, and
 * how to open a store. `main` fills it from the process; tests fill it with buffers.
 */

import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ObjectStore } from '../store/object-store.js';
import type { StoreConfig } from '../store/store-config.js';
import { buildStoreConfig } from './config.js';
import type { Environment, StoreFlags } from './config.js';
import { CliError } from './errors.js';
import { buildLoggerOptions, createLogger } from './logger.js';
import type { Logger, LoggingFlags } from './logger.js';

export interface OutputStream {
  write(text: string): unknown;
}

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Environment;
  cwd: string;
  stderrIsTty: boolean;
}

export interface CommandContext {
  io: CliIo;
  openStore(config: StoreConfig): Promise<ObjectStore>;
}

/** Registers one command on the program; one per file under cli/commands/. */
export type RegisterCommand = (program: Command, context: CommandContext) => void;

/** The logger every command uses, configured from the command's flags and the environment. */
export function commandLogger(context: CommandContext, flags: LoggingFlags): Logger {
  const options = buildLoggerOptions({ flags, env: context.io.env, stderrIsTty: context.io.stderrIsTty });
  const stderr = context.io.stderr;
  return createLogger({ ...options, destination: { write: (line: string) => stderr.write(line) } });
}

export function commandStoreConfig(context: CommandContext, flags: StoreFlags): Readonly<StoreConfig> {
  return buildStoreConfig({ flags, env: context.io.env, cwd: context.io.cwd });
}

/**
 * Opens the store, runs `use`, and always closes the store. The operator tools only read, so
 * a file store's directory must already exist: a typo must not create an empty volume.
 */
export async function withStore<T>(options: { context: CommandContext; config: StoreConfig; use: (store: ObjectStore) => Promise<T> }): Promise<T> {
  const { context, config } = options;
  if (config.kind === 'file') await assertDirectoryExists(config.directory);
  const store = await context.openStore(config);
  try {
    return await options.use(store);
  } finally {
    await store.close();
  }
}

async function assertDirectoryExists(directory: string): Promise<void> {
  const isDirectory = await stat(directory).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) throw new CliError('ERR_CLI_STORE_MISSING', `no volume directory at ${directory}`);
}
