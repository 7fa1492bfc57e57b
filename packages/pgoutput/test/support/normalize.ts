import { type PgoutputMessage, UNCHANGED_TOAST } from '../../src/index.js';

/**
 * A decoded message with everything that differs between two captures of
 * the same SQL (LSNs, times, xids, OIDs of user objects) replaced by stable
 * placeholders, so a fresh capture can be compared with a committed fixture.
 */
export function normalize(
  msg: PgoutputMessage,
  names: { relations: Record<string, number>; types: Record<string, number> },
): unknown {
  const byOid = new Map<number, string>();
  for (const [name, oid] of Object.entries(names.relations)) byOid.set(oid, name);
  for (const [name, oid] of Object.entries(names.types)) byOid.set(oid, name);
  const oid = (o: number): string | number => byOid.get(o) ?? (o >= 16384 ? '<user oid>' : o);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(msg)) {
    if (typeof v === 'bigint') out[k] = '<int64>';
    else if (k === 'xid' || k === 'subXid') out[k] = v === undefined ? undefined : '<xid>';
    else if (k === 'relationOid' || k === 'typeOid') out[k] = oid(v as number);
    else if (k === 'relationOids') out[k] = (v as number[]).map(oid).sort();
    else if (k === 'columns') {
      out[k] = (v as { typeOid: number }[]).map((c) => ({ ...c, typeOid: oid(c.typeOid) }));
    } else if (Array.isArray(v)) out[k] = v.map(value);
    else out[k] = value(v);
  }
  return out;
}

function value(v: unknown): unknown {
  if (v === UNCHANGED_TOAST) return '<unchanged toast>';
  if (v instanceof Uint8Array) return `<bytes ${Buffer.from(v).toString('hex')}>`;
  return v;
}
