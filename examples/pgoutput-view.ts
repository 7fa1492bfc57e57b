// @kuvasz/pgoutput's lazy view: the slot of pgoutput.ts read with no object
// per change. Inserts become COPY text rows, bytes in and bytes out; updates
// and deletes print their key, the only values decoded to strings.
//   DATABASE_URL=postgres://... SLOT=my_slot PUBLICATION=my_pub node pgoutput-view.js
import {
  CopyBuffer,
  formatLsn,
  MessageTag,
  MessageView,
  type RelationMessage,
  writeCopyRow,
} from '@kuvasz/pgoutput';
import pg from 'pg';

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const { rows } = await client.query<{ data: Buffer }>(
  `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
                      'proto_version', '1', 'publication_names', $2)`,
  [process.env.SLOT ?? 'my_slot', process.env.PUBLICATION ?? 'my_pub'],
);
const view = new MessageView({ protoVersion: 1 }); // one view, reset onto each message
const relations = new Map<number, RelationMessage>();
const copy = new CopyBuffer();
for (const { data } of rows) {
  switch (view.reset(data)) {
    case MessageTag.Relation: {
      const rel = view.toMessage(); // rare messages come decoded, as objects
      if (rel.tag === 'relation') relations.set(rel.relationOid, rel);
      break;
    }
    case MessageTag.Insert:
      writeCopyRow(copy, view.newTuple); // every column, COPY-escaped, as a text row
      break;
    case MessageTag.Update:
    case MessageTag.Delete: {
      const rel = relations.get(view.relationOid)!;
      // The old key ('K') or old row ('O') when sent; else the key is unchanged, in the new row.
      const t = view.oldMarker !== 0 ? view.oldTuple : view.newTuple;
      const key = rel.columns.flatMap((c, i) => (c.isKey ? [`${c.name}=${t.text(i)}`] : []));
      console.log(view.tag === MessageTag.Update ? 'update' : 'delete', rel.name, key.join(' '));
      break;
    }
    case MessageTag.Commit:
      console.log('commit, confirm up to', formatLsn(view.endLsn)); // a bigint made only here
      break;
  }
}
// What COPY ... FROM STDIN (text format) takes: here the inserted rows, to stdout.
process.stdout.write(copy.bytes());
await client.end();
