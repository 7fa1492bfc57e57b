import { z } from 'zod';

/**
 * The configuration file, as written by users. `databases` is the same list
 * as the original kuvasz-streamer's map.yaml, unchanged; a bare list (a map
 * file) is accepted too, with the destination given on the command line.
 */

/** A JavaScript regular expression's source (partitions_regex). */
export const regularExpression = z
  .string()
  .min(1)
  .refine(
    (s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a valid regular expression' },
  );

const positiveInt = (max: number) => z.number().int().min(1).max(max);

export const tableOptionsSchema = z
  .strictObject({
    type: z
      .enum(['clone', 'append', 'history'])
      .default('clone')
      .describe(
        'How changes are applied: clone (mirror), append (ignore DELETE and TRUNCATE), history (SCD type 2)',
      ),
    target: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Target table, `table` or `schema.table` (default: the source table name in destination.schema)',
      ),
    schema_changes: z
      .enum(['ignore', 'add_columns'])
      .optional()
      .describe(
        "New source columns: ignore (left out until the target has them) or add_columns (added to the target, nullable, with the source's type, before the first row that carries them). Default: apply.schema_changes",
      ),
    filter: z
      .string()
      .min(1)
      .optional()
      .describe(
        'CEL expression over the source row (columns by name, sid, op): only rows for which it is true are replicated, in the initial copy and in the stream. An error stops the source (fail closed)',
      ),
    set: z
      .record(z.string().min(1), z.string().min(1))
      .optional()
      .describe(
        'Target columns computed from the source row: target column -> CEL expression (the same variables as filter)',
      ),
    partitions_regex: regularExpression
      .optional()
      .describe(
        'Leaf partitions whose changes go to this table (for sources that publish partitions, e.g. PostgreSQL 12)',
      ),
  })
  .nullable();

export const sourceUrlSchema = z.strictObject({
  url: z.string().min(1).describe('Source connection URL; ${VAR} is read from the environment'),
  sid: z
    .union([z.string().min(1), z.number().int()])
    .describe("Source id written into the target tables' sid column (a string or a number)"),
});

// Duplicate sids and colliding slot names are checked in load.ts on the raw
// document, so that they are reported together with every other issue.
export const databaseSchema = z.strictObject({
  database: z
    .string()
    .min(1)
    .describe('Name of the source database (used in slot and publication names)'),
  urls: z
    .array(sourceUrlSchema)
    .min(1)
    .describe('One entry per source server holding this database'),
  tables: z
    .record(z.string().min(1), tableOptionsSchema)
    .refine((t) => Object.keys(t).length > 0, { message: 'at least one table is needed' })
    .describe('Source tables (`table` or `schema.table`) to replicate, with their options'),
});

export const configFileSchema = z.strictObject({
  destination: z.strictObject({
    url: z
      .string()
      .min(1)
      .describe('Destination connection URL; ${VAR} is read from the environment'),
    schema: z.string().min(1).default('public').describe('Schema of the target tables'),
    metadata_schema: z
      .string()
      .min(1)
      .default('kuvasz')
      .describe("The streamer's own state (positions, sync progress)"),
  }),
  databases: z
    .array(databaseSchema)
    .default([])
    .describe('The source databases (the same list as the original map.yaml)'),
  map: z
    .strictObject({
      store: z
        .enum(['file', 'destination'])
        .default('file')
        .describe(
          'file: the map is `databases` (or the original app.map_file), read at start and on SIGHUP; destination: the map is kept in the destination database and edited through the admin API (the original database mode)',
        ),
      import_sqlite: z
        .string()
        .min(1)
        .optional()
        .describe(
          "The original's SQLite map database (app.map_database), imported into the destination store",
        ),
    })
    .prefault({}),
  apply: z
    .strictObject({
      workers: positiveInt(64)
        .default(4)
        .describe('Destination connections applying changes in parallel'),
      batch_rows: positiveInt(1_000_000)
        .default(5_000)
        .describe('Changes per batch before a flush'),
      flush_interval_ms: z
        .number()
        .int()
        .min(0)
        .max(60_000)
        .default(0)
        .describe(
          'How long a partial group waits for more changes (0: applied as soon as the source is free)',
        ),
      schema_changes: z
        .enum(['ignore', 'add_columns'])
        .default('ignore')
        .describe(
          'Default for every table: what to do with a column added to a source table (see the table option)',
        ),
      binary: z
        .boolean()
        .default(false)
        .describe(
          "Read sources in pgoutput's binary mode (PostgreSQL 14+): rows whose target columns have the source's built-in types go into COPY BINARY, other values are turned into text by the streamer. A source stays in text mode (logged) when its server is older, a column type has no binary-to-text decoder (money, xml, geometric, tsvector, composites, ranges, ...), or its session settings differ from PostgreSQL's defaults",
        ),
      shutdown_timeout_ms: positiveInt(3_600_000)
        .default(30_000)
        .describe(
          'On SIGTERM / SIGINT, how long to wait for what was received to be applied and acknowledged; past it the process exits with code 3 naming the sources not flushed (their changes are replayed at the next start)',
        ),
    })
    .prefault({}),
  sync: z
    .strictObject({
      parallel_tables: positiveInt(64)
        .default(2)
        .describe('Tables copied at once during an initial sync'),
      parallel_sources: positiveInt(1000)
        .default(16)
        .describe(
          'Sources that create their slot and copy at once; the others wait their turn (each uses source connections while it copies: many tenants on one server would exhaust max_connections)',
        ),
      rows_per_second: z
        .number()
        .positive()
        .optional()
        .describe(
          'Rows per second read by all initial copies of the process together (the original app.sync_rate); default: no limit',
        ),
      burst: positiveInt(100_000_000)
        .optional()
        .describe(
          'Rows a copy may read ahead of the rate after a pause (the original app.sync_burst); default 1000',
        ),
    })
    .prefault({}),
  http: z
    .strictObject({
      listen: z
        .string()
        .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, {
          message: 'expected host:port, e.g. 127.0.0.1:8080',
        })
        .describe('Address of /metrics, /healthz, /readyz, /api/status and the admin API'),
      timeouts: z
        .strictObject({
          read_ms: positiveInt(3_600_000)
            .optional()
            .describe('Longest time to read a whole request'),
          read_header_ms: positiveInt(3_600_000)
            .optional()
            .describe("Longest time to read a request's headers"),
          write_ms: positiveInt(3_600_000).optional().describe('Longest time to write a response'),
          idle_ms: positiveInt(3_600_000)
            .optional()
            .describe('Longest time a kept-alive connection waits for its next request'),
        })
        .optional(),
      cors: z
        .strictObject({
          allowed_origins: z
            .array(z.string().min(1))
            .describe('Origins allowed to call the API (no CORS headers at all when empty)'),
          allow_methods: z
            .array(z.string().min(1))
            .optional()
            .describe('Default GET, POST, PATCH, PUT, DELETE'),
          allow_headers: z
            .array(z.string().min(1))
            .optional()
            .describe(
              'Default Authorization, User-Agent, If-Modified-Since, Cache-Control, Content-Type, X-Total-Count',
            ),
          allow_credentials: z.boolean().optional().describe('Default true'),
          max_age: positiveInt(31_536_000)
            .optional()
            .describe('Seconds a browser may keep a preflight answer (default 86400)'),
        })
        .optional(),
      auth: z
        .strictObject({
          admin_password: z
            .string()
            .min(1)
            .optional()
            .describe(
              "The admin password's hash (mkpasswd output, as in the original); ${VAR} is read from the environment. No default",
            ),
          jwt_key: z
            .string()
            .min(1)
            .optional()
            .describe(
              'Key signing the API tokens (e.g. openssl rand -base64 32); ${VAR} is read from the environment. No default',
            ),
          ttl: positiveInt(31_536_000).default(300).describe('Seconds a token is valid'),
        })
        .optional(),
    })
    .optional(),
  fleet: z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe(
          'Share the sources of this configuration with the other instances that run it, through leases in the destination (docs/fleet.md)',
        ),
      instance_id: z
        .string()
        .min(1)
        .max(100)
        .regex(/^\P{C}*$/u, { message: 'printable characters only (no control characters)' })
        .optional()
        .describe(
          "This process's name in the leases; each process needs its own. Default: the host name and the pid (`web-1-4242`)",
        ),
      lease_seconds: z
        .number()
        .min(2)
        .max(3600)
        .default(10)
        .describe(
          "How long a lease lasts without a renewal: an instance that dies hands its sources over after at most this (the destination's clock)",
        ),
      renew_seconds: z
        .number()
        .positive()
        .default(2)
        .describe('How often leases are renewed; at most lease_seconds / 3'),
      take_per_round: positiveInt(1000)
        .default(4)
        .describe('Sources an instance takes at most in one renewal round (no stampede on a join)'),
    })
    .optional()
    .describe('Several instances sharing the sources; without it (or enabled: false), none'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      format: z
        .enum(['json', 'pretty'])
        .optional()
        .describe('Default: pretty on a terminal, json otherwise'),
    })
    .prefault({}),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type DatabaseFile = z.infer<typeof databaseSchema>;

/** JSON Schema of the configuration file, for editors (`kuvasz-streamer schema`). */
export function configJsonSchema(): unknown {
  const schema = z.toJSONSchema(configFileSchema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return {
    $id: 'https://github.com/kuvasz-io/kuvasz-streamer/config.schema.json',
    title: 'kuvasz-streamer configuration',
    ...schema,
  };
}
