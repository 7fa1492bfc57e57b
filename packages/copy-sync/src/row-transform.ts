import type { BoundCopyRules } from './row-rules.js';

const NEWLINE = 0x0a;
const TAB = 0x09;
const BACKSLASH = 0x5c;

/** A COPY text field as its value: `\N` is NULL; backslash escapes undone. */
export function unescapeCopyField(raw: Buffer): string | null {
  if (raw.length === 2 && raw[0] === BACKSLASH && raw[1] === 0x4e) return null;
  const text = raw.toString('utf8');
  if (raw.indexOf(BACKSLASH) < 0) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\' || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const n = text[++i]!;
    switch (n) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 1, i + 3));
        if (m) {
          out += String.fromCharCode(Number.parseInt(m[0], 16));
          i += m[0].length;
        } else out += 'x';
        break;
      }
      default:
        if (n >= '0' && n <= '7') {
          const m = /^[0-7]{1,3}/.exec(text.slice(i, i + 3))!;
          out += String.fromCharCode(Number.parseInt(m[0], 8));
          i += m[0].length - 1;
        } else out += n;
    }
  }
  return out;
}

/** A value as a COPY text field: only COPY's escaping (backslash, newline, carriage return, tab). */
export function escapeCopyField(v: string | null): string {
  if (v === null) return '\\N';
  return /[\\\n\r\t]/.test(v)
    ? v.replace(/[\\\n\r\t]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
      )
    : v;
}

/**
 * Rewrites COPY text rows laid out as [copied fields, fields the rules read,
 * constants] into [copied fields, computed values, constants], leaving out
 * the rows the rules reject. Copied fields and constants are passed on as
 * bytes; only the fields the rules read are decoded. Rows may cross chunks:
 * the incomplete end of a chunk waits for the next one.
 */
export class RowTransform {
  private tail: Buffer | undefined;
  /** Rows left out by the rules so far. */
  skipped = 0;

  constructor(
    private readonly rules: BoundCopyRules,
    /** Number of copied fields before the read ones. */
    private readonly copied: number,
  ) {}

  /** The rewritten complete rows of `chunk` (and of what was left from the previous one). */
  push(chunk: Buffer): Buffer {
    const data = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    const end = data.lastIndexOf(NEWLINE);
    if (end < 0) {
      this.tail = data;
      return Buffer.alloc(0);
    }
    this.tail = end + 1 < data.length ? data.subarray(end + 1) : undefined;
    const out: Buffer[] = [];
    let start = 0;
    while (start <= end) {
      const nl = data.indexOf(NEWLINE, start);
      const line = data.subarray(start, nl);
      const row = this.row(line);
      if (row) out.push(row);
      start = nl + 1;
    }
    return Buffer.concat(out);
  }

  /** Called at the end of the stream: a row without its newline is a protocol error. */
  end(): void {
    if (this.tail && this.tail.length > 0)
      throw new Error('COPY data ended inside a row (no final newline)');
  }

  private row(line: Buffer): Buffer | undefined {
    const reads = this.rules.reads;
    // Field boundaries: [start, end) of each field.
    const starts: number[] = [0];
    for (let i = line.indexOf(TAB); i >= 0; i = line.indexOf(TAB, i + 1)) starts.push(i + 1);
    const fieldEnd = (f: number) => (f + 1 < starts.length ? starts[f + 1]! - 1 : line.length);
    const readAt = new Map<number, number>();
    reads.forEach((col, k) => {
      readAt.set(col, this.copied + k);
    });
    const values = this.rules.row((col) => {
      const f = readAt.get(col);
      if (f === undefined) throw new Error(`column ${col} is not among the columns the rules read`);
      return unescapeCopyField(line.subarray(starts[f]!, fieldEnd(f)));
    });
    if (values === null) {
      this.skipped++;
      return undefined;
    }
    const parts: Buffer[] = [];
    if (this.copied > 0) parts.push(line.subarray(0, fieldEnd(this.copied - 1)));
    const computed = values.map(escapeCopyField).join('\t');
    if (values.length > 0) parts.push(Buffer.from((this.copied > 0 ? '\t' : '') + computed));
    const constants = this.copied + reads.length;
    if (constants < starts.length) {
      const lead = this.copied > 0 || values.length > 0 ? '\t' : '';
      parts.push(Buffer.from(lead), line.subarray(starts[constants]!));
    }
    parts.push(Buffer.from('\n'));
    return Buffer.concat(parts);
  }
}
