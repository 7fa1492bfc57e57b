import { escapeIdentifier as id } from 'pg';
import { OPEN_END } from '../target/target-ddl.js';
import { CopyBinaryPayload, CopyPayload } from './copy-payload.js';
import type { PlannedOp } from './plan-units.js';
import { type Shape, sidBinary } from './shape.js';
import { cell } from './statement-parts.js';

/** A `COPY target (...) FROM STDIN` of whole rows, with its text-format payload. */
export interface CopyStatement {
  text: string;
  chunks: Buffer[];
  rows: number;
}

/**
 * The new rows of `ops` straight into the target: its input functions parse
 * the values (what native replication does too), `sid` is the source's text.
 * With `history`, each row is a version open from `start` (default: the
 * change's time). COPY
 * writes identity columns like OVERRIDING SYSTEM VALUE, fires row triggers,
 * and ignores rules.
 */
export function copyRows<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  history = false,
  start: (op: PlannedOp<R>) => string = (op) => op.time,
): CopyStatement {
  const cols = [
    ...(shape.target.sid ? ['sid'] : []),
    ...shape.cols.map((c) => id(c.name)),
    ...(history ? ['kvsz_start', 'kvsz_end', 'kvsz_deleted'] : []),
  ];
  const src = shape.cols.map((c) => c.src);
  const binary = !history && binaryRows(shape, sid, ops);
  if (binary) {
    const payload = new CopyBinaryPayload();
    const fields = cols.length;
    for (const op of ops) {
      payload.beginRow(fields);
      if (binary !== true) payload.value(binary, 0, binary.length);
      for (let i = 0; i < src.length; i++) payload.wireCell(op.wire!, src[i]!);
      payload.endRow();
    }
    return {
      text: `COPY ${shape.target.qualified} (${cols.join(', ')}) FROM STDIN (FORMAT binary)`,
      rows: payload.rows,
      chunks: payload.take(),
    };
  }
  const payload = new CopyPayload();
  const width = cols.length;
  const lead = shape.target.sid ? 1 : 0;
  const row = new Array<string | null>(width);
  for (const op of ops) {
    if (op.wire) {
      // Rows that arrived as bytes: into the payload as bytes, never decoded.
      if (!history) {
        payload.wireRow(lead ? sid : undefined, op.wire, src);
        continue;
      }
      payload.beginRow();
      if (lead) payload.cell(sid);
      for (let i = 0; i < src.length; i++) payload.wireCell(op.wire, src[i]!);
      payload.cell(start(op));
      payload.cell(OPEN_END);
      payload.cell('f');
      payload.endRow();
      continue;
    }
    if (lead) row[0] = sid;
    const t = op.newT;
    for (let i = 0; i < shape.cols.length; i++) row[lead + i] = cell(t?.[shape.cols[i]!.src]);
    if (history) {
      row[width - 3] = start(op);
      row[width - 2] = OPEN_END;
      row[width - 1] = 'f';
    }
    payload.row(row);
  }
  return {
    text: `COPY ${shape.target.qualified} (${cols.join(', ')}) FROM STDIN`,
    rows: payload.rows,
    chunks: payload.take(),
  };
}

/**
 * Whether `ops` can go into a binary COPY: every row arrived in binary mode
 * and the target's columns have the source's types. The `sid` value's bytes
 * when the target has one, else true; false for a text COPY.
 */
function binaryRows<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Uint8Array | boolean {
  if (!shape.binaryCopy || ops.length === 0) return false;
  for (const op of ops) if (op.wire?.binary === undefined) return false;
  const sidColumn = shape.target.sid;
  if (sidColumn === undefined) return true;
  return sidBinary(sid, sidColumn.typeOid) ?? false;
}
