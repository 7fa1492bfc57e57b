import { Backoff, ensureMetadataSchema, sleep } from '@kuvasz/core';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Redactor } from '../config/secrets.js';
import { withMapSources } from './map-config.js';
import { DestinationMapStore, FileMapStore, type MapStore } from './map-store.js';
import { readSqliteMap } from './sqlite-import.js';

/**
 * Where `run` takes its sources from: the configuration file (declarative
 * mode), or the map in the destination (database mode), which it creates,
 * fills once (from the original's SQLite map, else from the file's
 * `databases`) and reads at every (re)start.
 */
export class MapSource {
  private fileStore: FileMapStore;

  private constructor(
    private readonly log: Logger,
    private readonly redactor: Redactor,
    private readonly destination: { pool: pg.Pool; store: DestinationMapStore } | undefined,
    file: Config,
  ) {
    this.fileStore = new FileMapStore(file, file.file);
  }

  static async open(
    cfg: Config,
    log: Logger,
    redactor: Redactor,
    signal: AbortSignal,
  ): Promise<MapSource> {
    if (cfg.map.mode !== 'database') return new MapSource(log, redactor, undefined, cfg);
    const pool = new pg.Pool({
      connectionString: cfg.destination.url,
      max: 2,
      application_name: 'kuvasz-streamer',
    });
    pool.on('error', () => undefined);
    const store = new DestinationMapStore(pool, cfg.destination.metadataSchema);
    const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
    for (;;) {
      try {
        const c = await pool.connect();
        try {
          await ensureMetadataSchema(c, cfg.destination.metadataSchema);
        } finally {
          c.release();
        }
        break;
      } catch (err) {
        if (signal.aborted) throw err;
        const wait = backoff.next();
        log.error({ err, retryInMs: wait }, 'cannot read the map in the destination; retrying');
        await sleep(wait, signal);
      }
    }
    const source = new MapSource(log, redactor, { pool, store }, cfg);
    await source.seed(cfg);
    return source;
  }

  /** Fills an empty map once: from the SQLite file, else from the configuration file's databases. */
  private async seed(cfg: Config): Promise<void> {
    const { store } = this.destination!;
    if (!(await store.isEmpty())) {
      this.log.info({}, 'map read from the destination (changes go through the admin API)');
      return;
    }
    const sqlite = cfg.map.mode === 'database' ? cfg.map.sqliteImport : undefined;
    const map = sqlite ? await readSqliteMap(sqlite) : await this.fileStore.load();
    if (map.dbs.length === 0) {
      this.log.info(
        {},
        'the map in the destination is empty: add databases, URLs and tables through the admin API',
      );
      return;
    }
    await store.replace(map);
    this.log.info(
      {
        from: sqlite ?? cfg.file,
        databases: map.dbs.length,
        urls: map.urls.length,
        tables: map.tbls.length,
      },
      'map imported into the destination (once: from now on it is changed through the admin API)',
    );
  }

  get mode(): 'file' | 'destination' {
    return this.destination ? 'destination' : 'file';
  }

  /** The map the admin API reads (and, in database mode, changes). */
  store(): MapStore {
    return this.destination?.store ?? this.fileStore;
  }

  /** What runs: the file's configuration, with the map's sources in database mode. */
  async resolve(file: Config): Promise<Config> {
    this.fileStore = new FileMapStore(file, file.file);
    // The logger's redactor learns the passwords of sources added by a reload too.
    if (!this.destination) {
      this.redactor.add(file.secrets);
      return file;
    }
    const { cfg, idle, notices } = withMapSources(file, await this.destination.store.load());
    for (const n of notices) this.log.info({ config: '(the map in the destination)' }, n);
    for (const db of idle)
      this.log.info(
        { database: db },
        'database in the map has no URL or no table yet: not started',
      );
    this.redactor.add(cfg.secrets);
    return cfg;
  }

  async close(): Promise<void> {
    await this.destination?.pool.end();
  }
}
