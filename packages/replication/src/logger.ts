/**
 * The structural subset of pino's logger this package uses. Pass a pino
 * logger (or anything shaped like it); the default drops everything.
 */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const noop = (): void => {};

export const noopLogger: Logger = {
  child: () => noopLogger,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
};
