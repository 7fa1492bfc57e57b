import { describeTable, planTargetDdl } from '@kuvasz/apply';
import { CopySync } from '@kuvasz/copy-sync';
import { displayName, libpqUrl, withoutClientParams } from '@kuvasz/core';
import { dropPublication, dropSlot, kuvaszObjectName } from '@kuvasz/replication';
import type pg from 'pg';
import type { Logger } from 'pino';
import { withPg } from '../commands/targets.js';
import { parseQualifiedName } from '../config/names.js';
import type { AdminDeps, CorsSettings } from './admin-api.js';
import { Auth, type AuthSettings } from './auth.js';
import { badRequest } from './http-json.js';
import { MapCatalog, type MapEntry } from './map-catalog.js';
import type { TableType, TblRow, UrlRow } from './map-model.js';
import type { MapStore } from './map-store.js';

export interface AdminOptions {
  /** The map as it is now (a file map is replaced at each reload). */
  store: () => MapStore;
  destination: pg.Pool;
  destinationUrl: () => string;
  destinationSchema: () => string;
  metadataSchema: () => string;
  auth: AuthSettings;
  cors: CorsSettings | undefined;
  /**
   * Restarts the pipeline with the map as it is now; `between` runs once the
   * old pipeline stopped, before the new one starts.
   */
  apply: (reason: string, between?: () => Promise<void>) => Promise<void>;
  log: Logger;
}

/**
 * A map URL as this client connects with it: the same translation as the
 * configuration's URLs (the original's `replication=database` dropped).
 */
export function connectUrl(url: string): string {
  return libpqUrl(withoutClientParams(url).url);
}

/** The admin API's parts, wired to one store, the destination and the running pipeline. */
export function adminDeps(o: AdminOptions): AdminDeps {
  const auth = new Auth(o.auth);
  if (auth.ephemeralKey && o.auth.adminPasswordHash) {
    o.log.info(
      {},
      'auth.jwt_key is not set: tokens are signed with a key made at startup and end with this process',
    );
  }
  const catalog = new MapCatalog(
    () => o.store().load(),
    o.destinationUrl,
    o.destinationSchema,
    o.metadataSchema,
    connectUrl,
  );
  const urlsOf = async (dbId: number): Promise<UrlRow[]> =>
    (await o.store().load()).urls.filter((u) => u.db_id === dbId);
  return {
    get store() {
      return o.store();
    },
    catalog,
    auth,
    cors: o.cors,
    apply: o.apply,
    async createTarget(entry: MapEntry, type: TableType, target: string) {
      const urls = await urlsOf(entry.db_id);
      if (urls.length === 0) throw badRequest(`database ${entry.db_name} has no URL`);
      const source = await withPg(
        connectUrl(urls[0]!.url),
        `source ${entry.db_name} (sid ${urls[0]!.sid})`,
        (c) => describeTable(c, { schema: entry.schema, table: entry.name }),
        10_000,
      );
      if (!source)
        throw badRequest(`${entry.schema}.${entry.name} no longer exists in ${entry.db_name}`);
      const ref = parseQualifiedName(target, o.destinationSchema());
      if (!ref) throw badRequest(`invalid target name '${target}'`);
      const ddl = planTargetDdl(source, { target: ref, type, hasSid: true });
      const c = await o.destination.connect();
      try {
        await c.query('BEGIN');
        await c.query(ddl);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw badRequest(`cannot create ${displayName(ref)}: ${(e as Error).message}`);
      } finally {
        c.release();
      }
      o.log.info({ table: displayName(ref), type }, 'target table created through the admin API');
    },
    async resync(tbl: TblRow) {
      const urls = await urlsOf(tbl.db_id);
      // Forgotten between the two pipelines: no runner holds the table's copy state meanwhile.
      void o.apply(
        `table ${tbl.schema}.${tbl.name} of ${tbl.db_name} to be copied again`,
        async () => {
          const copy = new CopySync({
            destination: o.destination,
            metadataSchema: o.metadataSchema(),
          });
          for (const u of urls)
            await copy.forget(
              { database: tbl.db_name, sid: u.sid },
              { schema: tbl.schema, table: tbl.name },
            );
        },
      );
    },
    async dropSlot(url: UrlRow) {
      const name = kuvaszObjectName(url.db_name, url.sid);
      const cs = connectUrl(url.url);
      await dropSlot(cs, name, { terminateActive: true });
      await dropPublication(cs, name);
      o.log.info(
        { source: `${url.db_name} (sid ${url.sid})`, slot: name },
        'slot and publication dropped through the admin API',
      );
    },
  };
}
