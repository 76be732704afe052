/**
 * The logging the NBD server needs. A pino logger satisfies it; the server makes one child
 * per connection so every line names its connection.
 */
export interface LogFn {
  (object: Record<string, unknown>, message?: string): void;
}

export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}
