import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Redactor } from '../src/config/secrets.js';
import {
  buildStatusDocument,
  statusDocumentSchema,
  statusJsonSchema,
} from '../src/runtime/status-document.js';

test('docs/status.schema.json is the schema the streamer serves', () => {
  const committed = JSON.parse(
    readFileSync(new URL('../../../docs/status.schema.json', import.meta.url), 'utf8'),
  );
  // Regenerate with: kuvasz-streamer status-schema > docs/status.schema.json
  expect(committed).toEqual(statusJsonSchema());
});

const cfg = parseConfig(
  `destination: { url: postgres://u@localhost/dw }
databases:
  - database: db1
    urls: [{ url: 'postgres://u:s3cretpass@h1/db1', sid: 1 }]
    tables: { t1: }
`,
  'x.yaml',
);

test('a live source: LSNs as X/Y, password redacted, counters per operation', () => {
  const doc = buildStatusDocument({
    cfg,
    redactor: new Redactor(cfg.secrets),
    stored: [],
    live: [
      {
        database: 'db1',
        sid: '1',
        slot: 'kuvasz_db1_1',
        state: 'streaming',
        lastError: {
          message: 'password s3cretpass refused',
          kind: 'connect',
          at: '2026-01-01T00:00:00.000Z',
        },
        receivedLsn: 0x1_0174_3000n,
        flushedLsn: 0x174_3000n,
        lagSeconds: 0.5,
        retries: 2,
      },
    ],
    health: new Map([
      [
        'kuvasz_db1_1',
        {
          lagBytes: 24n,
          retainedWalBytes: 1024n,
          walStatus: 'reserved',
          confirmedFlushLsn: '0/1743000',
          error: null,
        },
      ],
    ]),
    sync: new Map(),
    stats: [
      {
        database: 'db1',
        sid: '1',
        table: 'public.t1',
        operation: 'insert',
        result: 'ok',
        count: 3,
      },
      {
        database: 'db1',
        sid: '1',
        table: 'public.t1',
        operation: 'insert',
        result: 'ok',
        count: 2,
      },
    ],
    now: new Date('2026-01-01T00:00:01.000Z'),
  });
  expect(statusDocumentSchema.parse(doc)).toEqual(doc);
  const s = doc.sources[0]!;
  expect(s).toMatchObject({
    url: 'postgres://u:***@h1/db1',
    receivedLsn: '1/1743000',
    flushedLsn: '0/1743000',
    lastError: { message: 'password *** refused' },
    health: { lagBytes: 24, retainedWalBytes: 1024, confirmedFlushLsn: '0/1743000', error: null },
    tables: [{ source: 'public.t1', syncStatus: 'not synced', applied: { insert: 5 } }],
  });
});

test('a source no streamer recorded: never started, health not read', () => {
  const doc = buildStatusDocument({
    cfg,
    redactor: new Redactor(cfg.secrets),
    stored: [],
    health: new Map(),
    sync: new Map(),
    stats: [],
  });
  expect(statusDocumentSchema.parse(doc).sources[0]).toMatchObject({
    state: 'never started',
    receivedLsn: null,
    health: { error: 'not read yet' },
  });
});
