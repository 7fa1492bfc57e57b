import { redactPasswords } from '@kuvasz/core';

/**
 * Passwords found in connection strings: URLs (`postgres://u:pw@h/db`) and
 * key/value conninfo (`password=pw`). The logger and the error printer
 * replace each of them with `***`, wherever it appears.
 */
export function passwordsIn(connectionString: string): string[] {
  const found: string[] = [];
  try {
    const url = new URL(connectionString);
    if (url.password) {
      found.push(url.password, decodeURIComponent(url.password));
    }
    const q = url.searchParams.get('password');
    if (q) found.push(q);
  } catch {
    // not a URL: key/value conninfo
  }
  for (const m of connectionString.matchAll(/password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/gi)) {
    const pw = m[1] ?? m[2];
    if (pw) found.push(pw);
  }
  return [...new Set(found.filter((p) => p.length > 0))];
}

/** Replaces every known secret, and any password in a URL or conninfo (`redactPasswords`), with `***`. */
export class Redactor {
  private secrets: string[];

  constructor(secrets: Iterable<string> = []) {
    this.secrets = Redactor.order(secrets);
  }

  // Longest first, so a secret containing another is replaced whole.
  private static order(secrets: Iterable<string>): string[] {
    return [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  }

  /** Learns more secrets (a source added at run time): every later line is redacted with them too. */
  add(more: Iterable<string>): void {
    this.secrets = Redactor.order([...this.secrets, ...more]);
  }

  with(more: Iterable<string>): Redactor {
    return new Redactor([...this.secrets, ...more]);
  }

  redact(text: string): string {
    let out = redactPasswords(text);
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }
}
