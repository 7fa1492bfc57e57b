/** Process exit codes, documented in `--help`. */
export const EXIT = {
  ok: 0,
  /** A run or check found problems (validate, cutover mismatch). */
  failed: 1,
  /** Bad usage or configuration: nothing was started. */
  usage: 2,
  /** A source or the destination failed at run time. */
  runtime: 3,
} as const;

export type StreamerErrorCode = 'config' | 'usage' | 'runtime' | 'not_ready';

/** Errors the CLI turns into a one-line message and an exit code (no stack trace). */
export class StreamerError extends Error {
  override readonly name: string = 'StreamerError';
  readonly code: StreamerErrorCode;
  readonly exitCode: number;

  constructor(
    code: StreamerErrorCode,
    message: string,
    options?: { cause?: unknown; exitCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'runtime' ? EXIT.runtime : EXIT.usage);
  }
}

export interface ConfigIssue {
  /** Where in the file, e.g. `databases[0].urls[1].sid` (line 7). */
  path: string;
  message: string;
}

/** Every problem of a configuration, listed at once. */
export class ConfigError extends StreamerError {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.path ? `${i.path}: ` : ''}${i.message}`);
    super('config', `invalid configuration ${file}:\n${lines.join('\n')}`);
    this.issues = issues;
  }
}
