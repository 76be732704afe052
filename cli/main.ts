/**
 * The program's entry point (`bin/lsvd.js` calls `main(process.argv)`), and the only place
 * lsvd calls process.exit.
 */

import { runCli } from './program.js';

/** Resolves once `stream` has handed every queued write to the operating system. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * The AWS SDK prints a multi-line notice about its future Node.js requirement on first use;
 * lsvd pins its SDK version, and the notice would break the CLI's one-line error contract.
 */
const AWS_SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

export async function main(argv: string[]): Promise<void> {
  process.env[AWS_SDK_NODE_WARNING_SWITCH] ??= 'true';
  const exitCode = await runCli({
    argv,
    io: { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), stderrIsTty: process.stderr.isTTY === true },
  });
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(exitCode);
}
