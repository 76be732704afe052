/**
 * What the workload knows about each file it touched, kept in the test process (never on the
 * volume under test): which files an fsync acknowledged and with which SHA-256, and which
 * operations were cut short by a crash and may have landed either way.
 *
 * POSIX gives no promise for data whose fsync did not return, so only acknowledged states are
 * checked strictly; a cut-short operation must leave one of its before/after states (a rename
 * over a file is atomic, an unlink either happened or not), and an unacknowledged new file may
 * hold anything.
 */

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Expectation =
  /** fsync (file and directory) returned: the file must be there with these bytes. */
  | { kind: 'present'; sha256: string }
  /** A rename over an acknowledged file was cut short: either version, never a mix. */
  | { kind: 'replacing'; sha256s: readonly [string, string] }
  /** An unlink was cut short: gone, or still the acknowledged bytes. */
  | { kind: 'deleting'; sha256: string }
  /** The unlink and the directory fsync returned: the file must not come back. */
  | { kind: 'deleted' }
  /** Created but never acknowledged: anything, or nothing. */
  | { kind: 'creating' }
  /** A never-acknowledged file a crash left behind, to be removed. */
  | { kind: 'leftover' };

interface Entry {
  /** The worker that owns the file: only it replaces or deletes it. */
  owner: number;
  sizeBytes: number;
  expectation: Expectation;
}

export interface LedgerVerification {
  /** Files whose acknowledged bytes were read back intact. */
  filesVerified: number;
  bytesVerified: number;
  /** One line per broken promise; empty when everything held. */
  problems: string[];
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

export class FileLedger {
  /** Keyed by the path relative to the filesystem's root. */
  readonly #entries = new Map<string, Entry>();

  set(path: string, entry: Entry): void {
    this.#entries.set(path, entry);
  }

  expectationOf(path: string): Expectation | undefined {
    return this.#entries.get(path)?.expectation;
  }

  /** Acknowledged files of one worker, oldest first (Map order is insertion order). */
  presentFilesOf(owner: number): { path: string; sha256: string; sizeBytes: number }[] {
    const files: { path: string; sha256: string; sizeBytes: number }[] = [];
    for (const [path, entry] of this.#entries) {
      if (entry.owner === owner && entry.expectation.kind === 'present') files.push({ path, sha256: entry.expectation.sha256, sizeBytes: entry.sizeBytes });
    }
    return files;
  }

  leftovers(): string[] {
    return [...this.#entries].filter(([, entry]) => entry.expectation.kind === 'leftover').map(([path]) => path);
  }

  forget(path: string): void {
    this.#entries.delete(path);
  }

  count(kind: Expectation['kind']): number {
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.expectation.kind === kind) count += 1;
    return count;
  }

  /**
   * Reads every tracked file under `root` (a filesystem recovered after a crash and cleanly
   * unmounted since) and checks it against its expectation. Settles every uncertain entry to
   * what was found, so the next round starts from known states.
   */
  async verify(root: string): Promise<LedgerVerification> {
    const result: LedgerVerification = { filesVerified: 0, bytesVerified: 0, problems: [] };
    for (const [path, entry] of [...this.#entries]) {
      const data = await readIfPresent(join(root, path));
      const found = data === undefined ? undefined : sha256Hex(data);
      const problem = this.#settle({ path, entry, found, sizeBytes: data?.length ?? 0 });
      if (problem !== undefined) {
        result.problems.push(problem);
      } else if (entry.expectation.kind === 'present' || entry.expectation.kind === 'replacing') {
        result.filesVerified += 1;
        result.bytesVerified += data?.length ?? 0;
      }
    }
    return result;
  }

  /** Returns a problem, or updates the entry to the state found. */
  #settle(options: { path: string; entry: Entry; found: string | undefined; sizeBytes: number }): string | undefined {
    const { path, entry, found, sizeBytes } = options;
    const { expectation } = entry;
    const settleTo = (next: Expectation | undefined): undefined => {
      if (next === undefined) this.#entries.delete(path);
      else this.#entries.set(path, { ...entry, sizeBytes, expectation: next });
      return undefined;
    };
    const describe = found === undefined ? 'missing' : `sha256 ${found} (${sizeBytes} bytes)`;
    switch (expectation.kind) {
      case 'present':
        return found === expectation.sha256 ? undefined : `${path}: acknowledged with sha256 ${expectation.sha256}, found ${describe}`;
      case 'replacing':
        if (found !== undefined && expectation.sha256s.includes(found)) return settleTo({ kind: 'present', sha256: found });
        return `${path}: renamed over, must be one of ${expectation.sha256s.join(' / ')}, found ${describe}`;
      case 'deleting':
        if (found === undefined) return settleTo(undefined);
        if (found === expectation.sha256) return settleTo({ kind: 'present', sha256: found });
        return `${path}: being unlinked, must be gone or sha256 ${expectation.sha256}, found ${describe}`;
      case 'deleted':
        return found === undefined ? settleTo(undefined) : `${path}: its unlink was acknowledged, but it is back (${describe})`;
      case 'creating':
      case 'leftover':
        return settleTo(found === undefined ? undefined : { kind: 'leftover' });
    }
  }
}
