/**
 * The structural subset of pino's logger the kuvasz packages use: pass a pino
 * logger, or anything shaped like it. Object first, then a constant message;
 * bigints are logged as strings (pino cannot serialize them).
 */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const noop = (): void => {};

/** The default logger of every package: discards everything. */
export const noopLogger: Logger = {
  child: () => noopLogger,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
};
