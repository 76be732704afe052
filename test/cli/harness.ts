/**
 * Runs the CLI in-process with captured output and an isolated environment (never the
 * developer's AWS variables), and builds file-store volume directories from the golden
 * fixtures: each key a plain file at the same relative path, as the file store keeps them.
 */

import type { ExecutionContext } from 'ava';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Environment } from '../../cli/config.js';
import { runCli } from '../../cli/program.js';

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runLsvd(args: readonly string[], options: { env?: Environment; cwd?: string } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli({
    argv: ['node', 'lsvd', ...args],
    io: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: options.env ?? {},
      cwd: options.cwd ?? process.cwd(),
      stderrIsTty: false,
    },
  });
  return { exitCode, stdout, stderr };
}

const FIXTURES_DIRECTORY = fileURLToPath(new URL('../fixtures/log-objects/', import.meta.url));

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES_DIRECTORY, name)));
}

export function fixturePath(name: string): string {
  return join(FIXTURES_DIRECTORY, name);
}

/** A temporary volume directory holding `objects` (key → bytes), removed when the test ends. */
export function volumeDirectory(t: ExecutionContext, objects: Readonly<Record<string, Uint8Array | string>>): string {
  const directory = mkdtempSync(join(tmpdir(), 'lsvd-cli-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  for (const [key, body] of Object.entries(objects)) {
    const path = join(directory, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
  }
  return directory;
}

/** The stderr lines that are not pino log records: what the CLI itself printed. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
}
