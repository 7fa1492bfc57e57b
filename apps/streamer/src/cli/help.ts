declare const KUVASZ_VERSION: string;

export const VERSION = typeof KUVASZ_VERSION === 'string' ? KUVASZ_VERSION : '0.0.0-dev';

export const MAIN_HELP = `kuvasz-streamer ${VERSION}
PostgreSQL change-data-capture streamer: reads logical replication from many
source databases and writes the changes into one destination database as
clone, append or history (SCD type 2) tables, with a sid column per source.

Usage: kuvasz-streamer <command> [options]

Commands:
  demo                     Start embedded PostgreSQL (two tenant sources and a
                           warehouse), stream a live workload, show what arrives.
                           Needs nothing installed. Ctrl-C stops and cleans up.
  run -c <file>            Stream every configured source into the destination:
                           preflight, publication, slot, initial copy, then
                           changes, acknowledged only once durable.
  validate -c <file>       Check the configuration, each source (wal_level,
                           slots, rights, tables) and the target tables.
  plan -c <file> [--apply] Print the destination DDL the configuration needs;
                           execute it with --apply.
  status -c <file> [--json]
                           Slots, lag, retained WAL, last errors, rows per table.
  cutover -c <file>        Major-version upgrade switch-over: wait until caught
                           up, copy sequences, compare row counts (exit 0 = all match).
  teardown -c <file> --yes Drop the streamer's slots and publications.
  schema                   Print the JSON Schema of the configuration file.
  status-schema            Print the JSON Schema of status --json and /api/status.
  help [command]           Show this help, or a command's.
  version                  Print the version.

Options:
  -c, --config <file>      Configuration file (YAML; \${VAR} is read from the environment)
  --conf <file>            The original's kuvasz-streamer.toml (also: -c file.toml).
                           Without -c, --conf or --map: ./kuvasz-streamer.toml,
                           ./conf/kuvasz-streamer.toml, /etc/kuvasz/kuvasz-streamer.toml
  --<section>.<param>=<v>  A setting of the original's TOML (--app.num_workers=4),
                           over the file and KUVASZ_<section>_<param> variables
  --map <file>             A kuvasz-streamer map.yaml (a bare list of databases)
                           instead of -c; needs --destination
  --destination <url>      Destination URL (overrides destination.url)
  --log-level <level>      trace, debug, info, warn, error (default: from the file, else info)
  --log-format <format>    json or pretty (default: pretty on a terminal, else json)
  -h, --help               Show help (also: kuvasz-streamer help <command>)
  -V, --version            Print the version

Exit codes:
  0  success; also help, version, teardown without --yes (it only lists), and
     output cut short by its reader (kuvasz-streamer status -c f | head -1)
  1  checks failed: validate found problems, cutover is not caught up or
     counts differ, plan found no source table, teardown could not drop all
  2  bad usage or configuration, or Node.js older than 20.19: nothing started
  3  a runtime failure: a source or the destination failed, or run was not
     flushed within apply.shutdown_timeout_ms (or got a second signal)

Examples:
  kuvasz-streamer demo
  kuvasz-streamer validate -c streamer.yaml
  kuvasz-streamer plan -c streamer.yaml --apply
  DEST_PASSWORD=... kuvasz-streamer run -c streamer.yaml
  kuvasz-streamer run --map map.yaml --destination postgres://dwh/warehouse
`;

export const COMMAND_HELP: Record<string, string> = {
  run: `Usage: kuvasz-streamer run -c <file> | --map <file> --destination <url>

For every (database, url) of the configuration: preflight checks, the
publication kuvasz_<database>_<sid> made to hold exactly the configured
tables, the slot of the same name created (with an initial copy of every
table) or resumed, then changes streamed and applied. A position is
acknowledged to a source only after the destination committed it.

Sources run concurrently; a failing source is retried with backoff while the
others go on. SIGHUP re-reads the file: added tables are synced, removed ones
leave the publication. SIGINT / SIGTERM: stop reading, flush, acknowledge,
exit 0.

With http.listen (server.address in TOML): /metrics, /healthz, /readyz,
/api/status, the admin API (/api/db, /api/url, /api/tbl, /api/map; changes
need a token from POST /api/login or KUVASZ_API_TOKEN; docs/admin-api.md)
and the web page at /. With map.store: destination (app.map_database) the
map lives in the destination and the API changes it while running.
`,
  validate: `Usage: kuvasz-streamer validate -c <file>

Checks the file, then each source (reachable, wal_level = logical, free slots
and WAL senders, REPLICATION and publication rights, tables exist, keys) and
each target table (exists, has the mapped columns with compatible types, sid
and kvsz_* columns where needed). Lists every problem; exit 0 when none, 1
otherwise.
`,
  plan: `Usage: kuvasz-streamer plan -c <file> [--apply]

Prints the CREATE TABLE statements the destination needs, derived from the
source tables: sid, the source columns with the same types, primary key
(sid + source key), and for history tables kvsz_start, kvsz_end,
kvsz_deleted with a key that allows versions. Tables that exist are skipped.
--apply executes the statements in one transaction.
`,
  status: `Usage: kuvasz-streamer status -c <file> [--json]

Per source: slot state, lag in bytes and seconds, retained WAL, last error;
per table: rows synced and applied. --json prints the same as /api/status.
`,
  cutover: `Usage: kuvasz-streamer cutover -c <file> [--timeout-ms <ms>]

For a major-version upgrade: waits until every source is caught up (the
running streamer has applied everything up to the source's current WAL
position), copies sequence values to the destination, prints a per-table row
count comparison. Exit 0 when every count matches, 1 otherwise.
`,
  teardown: `Usage: kuvasz-streamer teardown -c <file> --yes

Drops the streamer's replication slots and publications on every source.
The destination is left as it is. Without --yes, only lists what it would
drop, and exits 0. Exit 1 when a source could not be reached to drop its own.
`,
  demo: `Usage: kuvasz-streamer demo [--duration-s <seconds>]

Starts three embedded PostgreSQL clusters (two tenant sources and a
warehouse), creates a clone, an append and a history table, plans the
warehouse, streams a live workload and shows rows/s, lag and per-table
counts, then a few history rows. Ctrl-C (or --duration-s) stops everything
and removes the data directories.
`,
  help: `Usage: kuvasz-streamer help [command]

Prints the overview, or the help of one command (same as <command> --help).
`,
  version: `Usage: kuvasz-streamer version

Prints the version (same as --version).
`,
  'status-schema': `Usage: kuvasz-streamer status-schema

Prints the JSON Schema of the document that status --json prints and that
run serves at /api/status (also served at /api/status/schema).
`,
  schema: `Usage: kuvasz-streamer schema

Prints the JSON Schema of the configuration file, for editors
(e.g. yaml-language-server: # yaml-language-server: $schema=./kuvasz.schema.json).
`,
};
