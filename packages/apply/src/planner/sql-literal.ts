/**
 * A built statement in the simple-query form: its `$n` parameters replaced by
 * literals. The simple protocol lets several statements travel in one
 * message, so BEGIN, the SET LOCALs, statements whose results nothing waits
 * for, the positions and COMMIT share round trips (see batch-script.ts).
 */

/**
 * A value as a SQL literal: NULL, or a string constant (E'' form when it
 * holds a quote or backslash). Not pg's `escapeLiteral`, which builds its
 * result one character at a time: statements inline array literals of
 * megabytes, which mostly need no escaping, and two native `indexOf` scans
 * find that out.
 */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  const s = typeof v === 'string' ? v : String(v);
  if (s.indexOf("'") < 0 && s.indexOf('\\') < 0) return `'${s}'`;
  // E'' escapes mean the same whatever standard_conforming_strings is.
  return `E'${s.replace(/[\\']/g, (c) => (c === '\\' ? '\\\\' : "''"))}'`;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** Index just past the quoted run that starts at `start` ("..." identifier, '...' or E'...' string). */
function skipQuoted(text: string, start: number): number {
  const quote = text.charCodeAt(start);
  const prev = start > 0 ? text[start - 1] : '';
  const backslashes = quote === 39 && (prev === 'E' || prev === 'e');
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (backslashes && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return i;
}

/**
 * `text` with each `$n` outside quoted identifiers and string constants
 * replaced by the literal of `values[n - 1]`. Statements carry their casts
 * (`$1::text[]`), so a literal means the same as the bound parameter.
 */
export function inlineParams(text: string, values: readonly unknown[]): string {
  if (values.length === 0) return text;
  let out = '';
  let from = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 34 || c === 39) {
      i = skipQuoted(text, i);
      continue;
    }
    if (c === 36 && isDigit(text.charCodeAt(i + 1))) {
      let j = i + 1;
      while (isDigit(text.charCodeAt(j))) j++;
      const n = Number(text.slice(i + 1, j));
      if (n < 1 || n > values.length)
        throw new Error(`statement refers to $${n} but has ${values.length} parameters`);
      out += text.slice(from, i) + sqlLiteral(values[n - 1]);
      from = i = j;
      continue;
    }
    i++;
  }
  return out + text.slice(from);
}
