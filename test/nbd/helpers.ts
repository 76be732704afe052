/**
 * Test helpers for ava files: the fixtures, and tests that need external tools (which fail
 * the run in CI when a tool is missing, and are skipped elsewhere).
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';

export * from './fixtures.js';

export type ToolTest = (title: string, implementation: (t: ExecutionContext) => Promise<void> | void) => void;

/**
 * Declares tests that need external tools. With every tool installed: ordinary tests
 * (serial ones if asked). Otherwise, in CI: tests that fail naming what is missing;
 * elsewhere: skipped tests, with a note on the console.
 */
export function testWithTools(tools: string[], options: { serial?: boolean } = {}): ToolTest {
  const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  const declare = options.serial === true ? test.serial : test;
  if (missing.length === 0) return (title, implementation) => declare(title, implementation);
  const message = `missing tools: ${missing.join(', ')} (Debian packages: see scripts/install-debian-packages.sh)`;
  if (process.env['CI'] !== undefined) return (title) => declare(title, (t) => t.fail(message));
  console.log(`skipping tests that need ${message}`);
  return (title, implementation) => declare.skip(title, implementation);
}

