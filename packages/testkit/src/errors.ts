export type TestkitErrorCode =
  | 'unsupported_version'
  | 'binaries_missing'
  | 'os_user'
  | 'initdb_failed'
  | 'start_failed'
  | 'backend_unavailable'
  | 'leaked_slot'
  | 'timeout'
  | 'tls_failed';

/** Every failure of the test kit, with a code a test can match on. */
export class TestkitError extends Error {
  override readonly name = 'TestkitError';
  readonly code: TestkitErrorCode;

  constructor(code: TestkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
