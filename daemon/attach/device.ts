/** What an attach mode hands back: a block device path, and how to let go of it. */
export interface AttachedDevice {
  devicePath: string;
  /** Idempotent: a second call waits for the first; a failed detach may be retried. */
  detach(): Promise<void>;
}

/** Wraps a detach step so it runs once on success and can be retried after a failure. */
export function onceUntilSuccess(step: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= step().catch((error: unknown) => {
      running = undefined;
      throw error;
    });
    return running;
  };
}
