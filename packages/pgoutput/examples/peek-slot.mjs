// Prints the changes waiting in a pgoutput slot without consuming them.
// Usage (after `pnpm --filter @kuvasz/pgoutput build`):
//   node examples/peek-slot.mjs postgres://user:pass@localhost/db my_slot my_publication
import { pathToFileURL } from 'node:url';
import { defaultTypeParsers, formatLsn, PgoutputDecoder, RelationCache } from '@kuvasz/pgoutput';
import pg from 'pg';

/** Decodes what the slot holds into `{ lsn, op, table, row }` records. */
export async function peekChanges(client, slot, publication) {
  const { rows } = await client.query(
    `SELECT lsn::text AS lsn, data
       FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
              'proto_version', '1', 'publication_names', $2, 'messages', 'true')`,
    [slot, publication],
  );
  const decoder = new PgoutputDecoder({ protoVersion: 1 });
  const relations = new RelationCache();
  const changes = [];
  for (const { lsn, data } of rows) {
    const msg = decoder.decode(data); // `data` is a Buffer (bytea)
    switch (msg.tag) {
      case 'relation':
        relations.set(msg);
        break;
      case 'insert':
      case 'update':
      case 'delete': {
        const rel = relations.require(msg.relationOid);
        const tuple = msg.tag === 'delete' ? (msg.old ?? msg.key) : msg.new;
        const row =
          msg.tag === 'delete' && msg.key
            ? relations.toKeyRecord(rel, tuple, defaultTypeParsers)
            : relations.toRecord(rel, tuple, defaultTypeParsers);
        changes.push({ lsn, op: msg.tag, table: `${rel.schema}.${rel.name}`, row });
        break;
      }
      case 'commit':
        changes.push({ lsn, op: 'commit', endLsn: formatLsn(msg.endLsn) });
        break;
      default:
        break; // begin, truncate, message, origin, type: see the PgoutputMessage union
    }
  }
  return changes;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url, slot, publication] = process.argv.slice(2);
  if (!url || !slot || !publication) {
    console.error('usage: node examples/peek-slot.mjs <postgres-url> <slot> <publication>');
    process.exit(2);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const change of await peekChanges(client, slot, publication)) {
      console.log(change);
    }
  } finally {
    await client.end();
  }
}
