import { kuvaszObjectName } from '@kuvasz/replication';

type Path = (string | number)[];

/**
 * Duplicate sids of a database, and sources whose slot and publication names
 * collide, read from the raw document: zod skips an object's refinements when
 * any of its fields is invalid, and these must be reported with the rest.
 */
export function sourceNameIssues(raw: unknown): { path: Path; message: string }[] {
  const issues: { path: Path; message: string }[] = [];
  const dbs = (raw as { databases?: unknown } | null)?.databases;
  if (!Array.isArray(dbs)) return issues;
  // Slot and publication names are lower-cased, sanitized and cut to 63 bytes:
  // two sources may end up with the same one.
  const names = new Map<string, { db: number; sid: string }>();
  dbs.forEach((db: unknown, di) => {
    const { database, urls } = (db ?? {}) as { database?: unknown; urls?: unknown };
    if (!Array.isArray(urls)) return;
    const seen = new Map<string, number>();
    urls.forEach((u: unknown, ui) => {
      const raw = (u as { sid?: unknown } | null)?.sid;
      if (typeof raw !== 'string' && typeof raw !== 'number') return;
      const sid = String(raw);
      const path: Path = ['databases', di, 'urls', ui, 'sid'];
      const first = seen.get(sid);
      if (first !== undefined) {
        issues.push({
          path,
          message: `duplicate sid ${JSON.stringify(sid)} (also urls[${first}]); every source of a database needs its own sid`,
        });
        return;
      }
      seen.set(sid, ui);
      if (typeof database !== 'string' || database === '') return;
      const name = kuvaszObjectName(database, sid);
      const other = names.get(name);
      if (other) {
        issues.push({
          path,
          message: `slot and publication name ${name} is also the name of databases[${other.db}] sid ${JSON.stringify(other.sid)}; names are lower-cased, non [a-z0-9_] characters become _, and they are cut to 63 bytes: choose another sid`,
        });
      } else {
        names.set(name, { db: di, sid });
      }
    });
  });
  return issues;
}
