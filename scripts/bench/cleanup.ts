/**
 * Undo actions (stop a process, unmount, remove a directory), run last-in first-out, each one
 * attempted even when an earlier one fails, so that a failed scenario leaves nothing behind.
 *
 * Stacks with actions pending are tracked so that an interrupted benchmark can undo them all,
 * newest first (a daemon stops while the S3 server it flushes to is still up). One stack runs at
 * a time: a scenario unwinding while the interrupt handler cleans up waits for it, then finds
 * its stack already empty.
 */

export class CleanupStack {
  static readonly #pending = new Set<CleanupStack>();
  static #running: Promise<unknown> = Promise.resolve();
  readonly #actions: Array<{ what: string; action: () => Promise<unknown> }> = [];

  static #exclusively<T>(task: () => Promise<T>): Promise<T> {
    const result = CleanupStack.#running.then(task);
    CleanupStack.#running = result.catch(() => undefined);
    return result;
  }

  /** Runs every pending stack, newest first: for SIGINT, when no run will finish by itself. */
  static async runAllPending(): Promise<string[]> {
    return CleanupStack.#exclusively(async () => {
      const failures: string[] = [];
      for (const stack of [...CleanupStack.#pending].reverse()) {
        failures.push(...(await stack.#runActions()));
      }
      return failures;
    });
  }

  defer(what: string, action: () => Promise<unknown>): void {
    this.#actions.push({ what, action });
    CleanupStack.#pending.add(this);
  }

  /** Runs every action; returns the failures as messages instead of throwing. */
  runAll(): Promise<string[]> {
    return CleanupStack.#exclusively(() => this.#runActions());
  }

  async #runActions(): Promise<string[]> {
    const failures: string[] = [];
    for (let entry = this.#actions.pop(); entry !== undefined; entry = this.#actions.pop()) {
      try {
        await entry.action();
      } catch (error) {
        failures.push(`${entry.what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    CleanupStack.#pending.delete(this);
    return failures;
  }
}
