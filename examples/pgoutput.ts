// @kuvasz/pgoutput: decodes what a pgoutput slot holds, without consuming it,
// through plain SQL (pg_logical_slot_peek_binary_changes).
// Once, on the server: CREATE PUBLICATION my_pub FOR TABLE ...;
//                      SELECT pg_create_logical_replication_slot('my_slot', 'pgoutput');
//   DATABASE_URL=postgres://... SLOT=my_slot PUBLICATION=my_pub node pgoutput.js
import { defaultTypeParsers, formatLsn, PgoutputDecoder, RelationCache } from '@kuvasz/pgoutput';
import pg from 'pg';

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const { rows } = await client.query<{ lsn: string; data: Buffer }>(
  `SELECT lsn::text AS lsn, data
     FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
            'proto_version', '1', 'publication_names', $2, 'messages', 'true')`,
  [process.env.SLOT ?? 'my_slot', process.env.PUBLICATION ?? 'my_pub'],
);
const decoder = new PgoutputDecoder({ protoVersion: 1 });
const relations = new RelationCache();
for (const { lsn, data } of rows) {
  const msg = decoder.decode(data);
  switch (msg.tag) {
    case 'relation':
      relations.set(msg);
      break;
    case 'insert':
    case 'update': {
      const rel = relations.require(msg.relationOid);
      // Raw text by default; defaultTypeParsers turns int4 into number, int8 into bigint, ...
      console.log(lsn, msg.tag, rel.name, relations.toRecord(rel, msg.new, defaultTypeParsers));
      break;
    }
    case 'delete': {
      const rel = relations.require(msg.relationOid);
      // The key columns (or the whole old row, with REPLICA IDENTITY FULL).
      const row = msg.key
        ? relations.toKeyRecord(rel, msg.key, defaultTypeParsers)
        : relations.toRecord(rel, msg.old!, defaultTypeParsers);
      console.log(lsn, msg.tag, rel.name, row);
      break;
    }
    case 'commit':
      console.log(lsn, 'commit, confirm up to', formatLsn(msg.endLsn));
      break;
  }
}
await client.end();
