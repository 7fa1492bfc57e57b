/**
 * The CopyBoth framer on its own bytes: a server's reply to START_REPLICATION
 * (CopyBothResponse, CopyData, a notice, CopyDone, CommandComplete,
 * ReadyForQuery, then a message after the exchange) fed in reads cut at
 * every offset and at random: every CopyData payload reaches the frame
 * listener once, in order, byte for byte; every other message reaches pg's
 * parser whole and in order; once the exchange ends, pg's parser reads the
 * socket again, from the first byte after it.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CopyBothQuery } from './copy-both.js';

function msg(type: string, body: Uint8Array | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const out = Buffer.alloc(5 + b.length);
  out[0] = type.charCodeAt(0);
  out.writeUInt32BE(4 + b.length, 1);
  b.copy(out, 5);
  return out;
}

const payloads = [
  Buffer.from('w-first'),
  Buffer.alloc(0),
  Buffer.alloc(70_000, 7), // longer than a read
  Buffer.from('k-keepalive'),
  Buffer.from([0x64, 0x64, 0x64]), // payload bytes that look like headers
];
const STREAM = Buffer.concat([
  msg('W', Buffer.from([0, 0, 0])),
  msg('d', payloads[0]!),
  msg('N', 'a notice'),
  msg('d', payloads[1]!),
  msg('d', payloads[2]!),
  msg('d', payloads[3]!),
  msg('d', payloads[4]!),
  msg('c', ''),
  msg('C', 'START_REPLICATION'),
  msg('Z', 'I'),
  msg('S', 'after\0exchange\0'),
]);

/** What pg's parser would do with the messages it is given: enough to drive the query. */
function harness() {
  const socket = new EventEmitter() as EventEmitter & { pause(): void; resume(): void };
  socket.pause = () => {};
  socket.resume = () => {};
  const connection = Object.assign(new EventEmitter(), {
    stream: socket,
    query: () => {},
    sendCopyFromChunk: () => {},
  });
  const toPg: Buffer[] = [];
  let pending = Buffer.alloc(0);
  const query = new CopyBothQuery('START_REPLICATION');
  const pgListener = (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
      const m = pending.subarray(0, 1 + pending.readUInt32BE(1));
      pending = pending.subarray(m.length);
      toPg.push(Buffer.from(m));
      const type = String.fromCharCode(m[0]!);
      if (type === 'W') connection.emit('replicationStart');
      if (type === 'd') query.handleCopyData({ chunk: Buffer.from(m.subarray(5)) });
      if (type === 'Z') query.handleReadyForQuery();
    }
  };
  socket.on('data', pgListener);
  const frames: Buffer[] = [];
  query.onFrames((buf, start, end) => frames.push(Buffer.from(buf.subarray(start, end))));
  query.submit(connection as never);
  return { socket, query, toPg, frames, pgListener };
}

function feed(cuts: number[]) {
  const h = harness();
  let at = 0;
  for (const c of [...cuts, STREAM.length]) {
    h.socket.emit('data', STREAM.subarray(at, c));
    at = c;
  }
  return h;
}

/** Byte equality as one boolean per frame (a deep equal of 70 KB buffers is slow). */
const same = (a: Buffer[], b: Buffer[]) =>
  a.length === b.length && a.every((x, i) => x.equals(b[i]!));

function check(h: ReturnType<typeof harness>) {
  expect(same(h.frames, payloads)).toBe(true);
  expect(h.toPg.map((m) => String.fromCharCode(m[0]!))).toEqual(['W', 'N', 'c', 'C', 'Z', 'S']);
  expect(Buffer.concat(h.toPg.filter((m) => m[0] === 0x53))).toEqual(msg('S', 'after\0exchange\0'));
  expect(h.socket.listeners('data')).toEqual([h.pgListener]);
}

describe('CopyBothQuery framing', () => {
  test('in one read', () => check(feed([])));

  test('cut once at every offset', () => {
    for (let i = 1; i < STREAM.length; i += i < 200 || i > STREAM.length - 200 ? 1 : 997)
      check(feed([i]));
  });

  test('cut at random offsets', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 40 }),
        (cuts) => check(feed(cuts.sort((a, b) => a - b))),
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  test('byte by byte through the headers', () => {
    const cuts = Array.from({ length: 120 }, (_, i) => i + 1);
    check(feed(cuts));
  });

  test('a connection lost mid-message gives pg the socket and the bytes of the cut message', () => {
    const h = harness();
    const errors: Error[] = [];
    h.query.on('error', (e: Error) => errors.push(e));
    h.socket.emit('data', STREAM.subarray(0, 40));
    h.query.handleError(new Error('connection lost'));
    expect(errors.map((e) => e.message)).toEqual(['connection lost']);
    expect(h.socket.listeners('data')).toEqual([h.pgListener]);
    expect(same(h.frames, [payloads[0]!, payloads[1]!])).toBe(true);
  });

  /** A message header with any length (the body is not needed: the length alone is bad). */
  const header = (type: string, length: number) => {
    const b = Buffer.alloc(5);
    b[0] = type.charCodeAt(0);
    b.writeUInt32BE(length, 1);
    return b;
  };

  test.each([
    ['below its own 4 bytes', 'd', 2, 'length 2'],
    ['zero, on a message that is not CopyData', 'N', 0, "type 'N') with length 0"],
    ['beyond what a server can send (1 GB)', 'd', 0xfffffff0, 'length 4294967280'],
  ])(
    'a length %s stops the exchange with a FramingError, at every cut',
    (_, type, length, says) => {
      const good = STREAM.subarray(0, msg('W', Buffer.from([0, 0, 0])).length + 12);
      const bytes = Buffer.concat([good, header(type, length), msg('d', 'never framed')]);
      for (let cut = 1; cut < bytes.length; cut++) {
        const h = harness();
        const errors: Error[] = [];
        h.query.on('error', (e: Error) => errors.push(e));
        h.socket.emit('data', bytes.subarray(0, cut));
        h.socket.emit('data', bytes.subarray(cut));
        h.socket.emit('data', msg('d', 'after the error'));
        expect(errors).toHaveLength(1);
        expect(errors[0]!.name).toBe('FramingError');
        expect(errors[0]!.message).toContain(says);
        expect(errors[0]!.message).toContain('reconnecting');
        // The message before it was framed; nothing after it reached anyone.
        expect(same(h.frames, [payloads[0]!])).toBe(true);
        expect(h.toPg.map((m) => String.fromCharCode(m[0]!))).toEqual(['W']);
        expect(h.query.writable).toBe(false);
      }
    },
  );

  test('without a pg parser on the socket, frames come from pg as before', () => {
    const socket = Object.assign(new EventEmitter(), { pause() {}, resume() {} });
    const connection = Object.assign(new EventEmitter(), {
      stream: socket,
      query: () => {},
      sendCopyFromChunk: () => {},
    });
    const q = new CopyBothQuery('START_REPLICATION');
    const frames: Buffer[] = [];
    q.onFrames((buf, s, e) => frames.push(Buffer.from(buf.subarray(s, e))));
    q.submit(connection as never);
    q.handleCopyData({ chunk: Buffer.from('x') });
    expect(frames).toEqual([Buffer.from('x')]);
  });
});
