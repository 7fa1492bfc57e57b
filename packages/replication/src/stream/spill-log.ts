import fs from 'node:fs';
import { promisify } from 'node:util';
import { messageOf } from '@kuvasz/core';

const read = promisify(fs.read);

/** Memory blocks are this large (a bigger record gets a block of its own). */
export const BLOCK_BYTES = 1 << 20;
/** A log that already spilled writes its memory out once it holds this much. */
const SPILLED_WRITE_BEHIND = 4 * BLOCK_BYTES;

/** One stored message: the relations it refers to (indexes into its transaction's list) and its raw pgoutput bytes. */
export interface LogRecord {
  relIdxs: number[];
  payload: Buffer;
  /** Offset of the next record in the same buffer. */
  next: number;
}

/** Whole records between `start` and `end` of `buf`; valid until the reader asks for the next chunk. */
export interface LogChunk {
  buf: Buffer;
  start: number;
  end: number;
}

/** Thrown for any file system failure of the spill files. */
export class SpillIoError extends Error {
  override name = 'SpillIoError';
}

/**
 * The shared memory budget of every open streamed transaction of one
 * stream. Past the limit, the log holding the most memory moves it to its
 * file. Standard blocks are recycled through a pool bounded by the same
 * limit: a large transaction passing through memory on its way to disk does
 * not leave a trail of dead buffers for the garbage collector.
 */
export class MemoryBudget {
  used = 0;
  private readonly logs = new Set<SpillLog>();
  private readonly pool: Buffer[] = [];

  constructor(readonly limit: number) {}

  register(log: SpillLog): void {
    this.logs.add(log);
  }

  unregister(log: SpillLog): void {
    this.logs.delete(log);
  }

  allocate(size: number): Buffer {
    this.used += size;
    if (size === BLOCK_BYTES) {
      const b = this.pool.pop();
      if (b) return b;
    }
    return Buffer.allocUnsafe(size);
  }

  release(buf: Buffer): void {
    this.used -= buf.length;
    if (
      buf.length === BLOCK_BYTES &&
      (this.pool.length + 1) * BLOCK_BYTES + this.used <= this.limit
    ) {
      this.pool.push(buf);
    }
  }

  enforce(): void {
    while (this.used > this.limit) {
      let largest: SpillLog | undefined;
      for (const l of this.logs) {
        if (l.memoryBytes > 0 && (!largest || l.memoryBytes > largest.memoryBytes)) largest = l;
      }
      if (!largest) return;
      largest.spill();
    }
  }
}

interface Block {
  buf: Buffer;
  used: number;
}

/**
 * An append-only log of records for one streamed transaction: in memory
 * blocks until the budget says otherwise, then in a temp file, with the
 * newest records possibly still in memory. Truncatable (an aborted
 * subtransaction), replayable in order, and removed by `dispose()`.
 *
 * Record layout: u32 payload length, u16 relation count, u32 per relation
 * index, then the payload.
 */
export class SpillLog {
  /** Logical size: file bytes plus memory bytes in use. */
  size = 0;
  /** Capacity of the memory blocks held, as counted against the budget. */
  memoryBytes = 0;
  private blocks: Block[] = [];
  private fd: number | undefined;
  private path: string | undefined;
  private fileBytes = 0;
  private disposed = false;

  constructor(
    private readonly budget: MemoryBudget,
    private readonly pathFor: () => string,
  ) {
    budget.register(this);
  }

  /** True once some of the log lives in a file. */
  get spilled(): boolean {
    return this.fd !== undefined;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  append(relIdxs: number[], payload: Uint8Array): void {
    const len = 6 + 4 * relIdxs.length + payload.length;
    let block = this.blocks[this.blocks.length - 1];
    if (!block || block.used + len > block.buf.length) {
      const buf = this.budget.allocate(Math.max(BLOCK_BYTES, len));
      block = { buf, used: 0 };
      this.blocks.push(block);
      this.memoryBytes += buf.length;
    }
    const b = block.buf;
    let at = block.used;
    b.writeUInt32BE(payload.length, at);
    b.writeUInt16BE(relIdxs.length, at + 4);
    at += 6;
    for (const r of relIdxs) {
      b.writeUInt32BE(r, at);
      at += 4;
    }
    b.set(payload, at);
    block.used += len;
    this.size += len;
    if (this.spilled && this.memoryBytes >= SPILLED_WRITE_BEHIND) this.spill();
    else this.budget.enforce();
  }

  /** Writes the memory blocks to the file and frees them. Synchronous: called while a frame is handled. */
  spill(): void {
    if (this.blocks.length === 0) return;
    try {
      if (this.fd === undefined) {
        this.path = this.pathFor();
        this.fd = fs.openSync(this.path, 'w+', 0o600);
      }
      for (const block of this.blocks) {
        let off = 0;
        while (off < block.used) {
          off += fs.writeSync(this.fd, block.buf, off, block.used - off, this.fileBytes + off);
        }
        this.fileBytes += block.used;
      }
    } catch (e) {
      throw new SpillIoError(`cannot write spill file ${this.path}: ${messageOf(e)}`, { cause: e });
    }
    this.freeMemory();
  }

  /** Cuts the log back to `offset` bytes (an offset this log returned as `size` earlier). */
  truncate(offset: number): void {
    if (offset >= this.size) return;
    if (offset >= this.fileBytes) {
      let keep = offset - this.fileBytes;
      const kept: Block[] = [];
      for (const block of this.blocks) {
        if (keep <= 0) {
          this.release(block);
          continue;
        }
        if (block.used > keep) block.used = keep;
        keep -= block.used;
        kept.push(block);
      }
      this.blocks = kept;
    } else {
      this.freeMemory();
      try {
        if (this.fd !== undefined) fs.ftruncateSync(this.fd, offset);
      } catch (e) {
        throw new SpillIoError(`cannot truncate spill file ${this.path}: ${messageOf(e)}`, {
          cause: e,
        });
      }
      this.fileBytes = offset;
    }
    this.size = offset;
  }

  /**
   * The log in order, the file first, then the memory blocks, as chunks of
   * whole records: no per-record objects are kept between reads, so a
   * replay leaves little for the garbage collector. A chunk is valid until
   * the generator is resumed.
   */
  async *chunks(): AsyncGenerator<LogChunk> {
    if (this.fd !== undefined && this.fileBytes > 0) {
      const fd = this.fd;
      const end = this.fileBytes;
      let buf = Buffer.allocUnsafe(BLOCK_BYTES);
      let have = 0;
      let pos = 0;
      while (pos < end || have > 0) {
        if (pos < end) {
          if (have === buf.length) {
            const bigger = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(bigger, 0, 0, have);
            buf = bigger;
          }
          let n: number;
          try {
            ({ bytesRead: n } = await read(
              fd,
              buf,
              have,
              Math.min(buf.length - have, end - pos),
              pos,
            ));
          } catch (e) {
            if (this.disposed) return;
            throw new SpillIoError(`cannot read spill file ${this.path}: ${messageOf(e)}`, {
              cause: e,
            });
          }
          if (this.disposed) return;
          if (n === 0) throw new SpillIoError(`spill file ${this.path} ended early at byte ${pos}`);
          pos += n;
          have += n;
        }
        const whole = wholeRecords(buf, have);
        if (whole === 0 && pos >= end) {
          throw new SpillIoError(`spill file ${this.path} ends inside a record`);
        }
        if (whole > 0) {
          yield { buf, start: 0, end: whole };
          if (this.disposed) return;
        }
        // Only now, with the chunk consumed, may its bytes be overwritten.
        buf.copy(buf, 0, whole, have);
        have -= whole;
      }
    }
    for (const block of this.blocks) {
      if (block.used === 0) continue;
      yield { buf: block.buf, start: 0, end: block.used };
      if (this.disposed) return;
    }
  }

  /** The records one by one (tests, small logs). */
  async *records(): AsyncGenerator<LogRecord> {
    for await (const chunk of this.chunks()) {
      let at = chunk.start;
      while (at < chunk.end) {
        const rec = readRecord(chunk.buf, at, chunk.end);
        if (!rec) break;
        at = rec.next;
        yield rec;
      }
    }
  }

  /** Frees the memory and removes the file. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.freeMemory();
    this.budget.unregister(this);
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // Already closed: nothing to free.
      }
      this.fd = undefined;
    }
    if (this.path !== undefined) {
      fs.rmSync(this.path, { force: true });
    }
  }

  private freeMemory(): void {
    for (const block of this.blocks) this.release(block);
    this.blocks = [];
  }

  private release(block: Block): void {
    this.memoryBytes -= block.buf.length;
    this.budget.release(block.buf);
  }
}

/** The record at `at`, or undefined when it does not end before `end`. */
export function readRecord(buf: Buffer, at: number, end: number): LogRecord | undefined {
  if (end - at < 6) return undefined;
  const payloadLen = buf.readUInt32BE(at);
  const nRel = buf.readUInt16BE(at + 4);
  const headerLen = 6 + 4 * nRel;
  if (end - at < headerLen + payloadLen) return undefined;
  const relIdxs = new Array<number>(nRel);
  for (let i = 0; i < nRel; i++) relIdxs[i] = buf.readUInt32BE(at + 6 + 4 * i);
  const start = at + headerLen;
  return { relIdxs, payload: buf.subarray(start, start + payloadLen), next: start + payloadLen };
}

/** Bytes from 0 covered by whole records. */
function wholeRecords(buf: Buffer, have: number): number {
  let at = 0;
  while (have - at >= 6) {
    const len = 6 + 4 * buf.readUInt16BE(at + 4) + buf.readUInt32BE(at);
    if (at + len > have) break;
    at += len;
  }
  return at;
}
