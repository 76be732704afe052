/**
 * Whether the volume is being served: clients and the end of the run wait on it. It is
 * withdrawn whenever the serving process stops serving, so a waiter woken by an old opening
 * always finds a new one to wait on instead of spinning.
 */
export class ReadyGate {
  #opened: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  #closed = false;
  #stopped = false;

  constructor() {
    this.close();
  }

  /** The run is over: the gate never opens again. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Resolves once the gate is open (it may have closed again by the time the waiter runs). */
  wait(): Promise<void> {
    return this.#opened;
  }

  open(): void {
    if (this.#stopped) return;
    this.#closed = false;
    this.#open();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#opened = new Promise((resolve) => (this.#open = resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.close();
  }
}
