/**
 * The commander program and the one place errors become exit codes. `runCli` never exits the
 * process (tests call it directly); `main` does.
 */

import { Command } from 'commander';
import { openStore } from '../store/open-store.js';
import { COMMANDS } from './commands/index.js';
import { ENVIRONMENT_VARIABLES, secretsIn } from './config.js';
import type { CliIo, CommandContext, OutputStream } from './context.js';
import { errorLine, EXIT_OK, exitCodeFor, isCommanderError, redactSecrets } from './errors.js';
import type { ExitCode } from './errors.js';
import { readPackageVersion } from './version.js';

const ENV = ENVIRONMENT_VARIABLES;
const ENVIRONMENT_ROWS: readonly [string, string][] = [
  [ENV.store, '--store'],
  [`${ENV.bucketName} or ${ENV.flyBucket}`, 'the S3 bucket when --store is absent'],
  [`${ENV.awsEndpoint} or ${ENV.flyEndpoint}`, '--endpoint'],
  [ENV.region, '--region (default us-east-1)'],
  [`${ENV.accessKeyId}, ${ENV.secretAccessKey}`, 'S3 credentials (absent: the AWS SDK default chain)'],
  [ENV.sessionToken, 'S3 session token, with temporary credentials'],
  [`${ENV.prefix}, ${ENV.pathStyle}`, '--prefix, --path-style'],
  [`${ENV.logLevel}, ${ENV.logFormat}`, '--log-level, --log-format'],
];
const ENVIRONMENT_NAME_WIDTH = Math.max(...ENVIRONMENT_ROWS.map(([names]) => names.length));
const ENVIRONMENT_HELP = [
  '',
  'Environment (flags win):',
  ...ENVIRONMENT_ROWS.map(([names, meaning]) => `  ${names.padEnd(ENVIRONMENT_NAME_WIDTH)}  ${meaning}`),
  '',
  'Exit codes: 0 success, 1 runtime failure (store unreachable, corrupt object), 2 usage or configuration error.',
  'See docs/CLI.md.',
].join('\n');

function redacting(stream: OutputStream, secrets: readonly string[]): OutputStream {
  return { write: (text: string) => stream.write(redactSecrets(text, secrets)) };
}

export interface RunCliOptions {
  /** Like process.argv: the first two items (node, script) are skipped. */
  argv: readonly string[];
  io: CliIo;
  /** Default: store/open-store.ts. */
  openStore?: CommandContext['openStore'];
}

export function buildProgram(context: CommandContext): Command {
  const { io } = context;
  const program = new Command('lsvd')
    .description('A bottomless block device stored as a log of immutable objects in S3-compatible storage, served over NBD.')
    .version(readPackageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // One line per usage error, suggestion included ("error: unknown command 'lss' (Did you mean ls?)").
      outputError: (text, write) => write(`${text.trimEnd().replace(/\s*\n\s*/g, ' ')}\n`),
    })
    .addHelpText('after', ENVIRONMENT_HELP);
  for (const register of COMMANDS) register(program, context);
  return program;
}

/** Runs the program and returns its exit code; all output goes through `io`, secrets redacted. */
export async function runCli(options: RunCliOptions): Promise<ExitCode> {
  const secrets = secretsIn(options.io.env);
  const io: CliIo = { ...options.io, stdout: redacting(options.io.stdout, secrets), stderr: redacting(options.io.stderr, secrets) };
  const context: CommandContext = { io, openStore: options.openStore ?? openStore };
  const program = buildProgram(context);
  try {
    await program.parseAsync([...options.argv], { from: 'node' });
    return EXIT_OK;
  } catch (error) {
    const exitCode = exitCodeFor(error);
    // Commander already printed its own usage errors (and help/version); everything else gets one line.
    if (!isCommanderError(error)) io.stderr.write(`${errorLine(error)}\n`);
    return exitCode;
  }
}
