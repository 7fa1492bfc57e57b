/**
 * Test-only byte builder, written independently of the production decoder
 * and encoder (plain `Buffer` writes, no shared code), so tests can state the
 * expected wire bytes of a message by hand.
 */
/** The builder's own marker for an unchanged TOAST column (not the production symbol). */
export const TOAST: unique symbol = Symbol('test: unchanged toast');
export type BuilderColumn = null | typeof TOAST | string | Uint8Array;

export class Bytes {
  private parts: Buffer[] = [];

  byte(v: number | string): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(typeof v === 'string' ? v.charCodeAt(0) : v);
    this.parts.push(b);
    return this;
  }

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }

  /** Unsigned 32-bit, as OIDs and xids are sent. */
  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }

  uint64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }

  int64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }

  cstring(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }

  raw(bytes: Uint8Array | number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  /** TupleData: each column is null, TOAST (unchanged), a string (text) or bytes (binary). */
  tuple(cols: BuilderColumn[]): this {
    this.int16(cols.length);
    for (const c of cols) {
      if (c === null) this.byte('n');
      else if (c === TOAST) this.byte('u');
      else if (typeof c === 'string') {
        const b = Buffer.from(c, 'utf8');
        this.byte('t').int32(b.length).raw(b);
      } else this.byte('b').int32(c.length).raw(c);
    }
    return this;
  }

  build(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

export const bytes = (): Bytes => new Bytes();

/** Wraps a pgoutput message in an XLogData frame ('w'). */
export function xlogData(
  walStart: bigint,
  walEnd: bigint,
  clock: bigint,
  msg: Uint8Array,
): Uint8Array {
  return bytes().byte('w').uint64(walStart).uint64(walEnd).int64(clock).raw(msg).build();
}

/** Wraps a payload in a protocol CopyData message ('d', Int32 length counting itself). */
export function copyData(payload: Uint8Array): Uint8Array {
  return bytes()
    .byte('d')
    .int32(payload.length + 4)
    .raw(payload)
    .build();
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
