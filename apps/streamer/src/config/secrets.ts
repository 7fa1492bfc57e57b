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
  private readonly secrets: string[];

  constructor(secrets: Iterable<string> = []) {
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...new Set(secrets)]
      .filter((s) => s.length >= 3)
      .sort((a, b) => b.length - a.length);
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
