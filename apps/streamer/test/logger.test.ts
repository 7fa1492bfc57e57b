import { PassThrough } from 'node:stream';
import { expect, test } from 'vitest';
import { Redactor } from '../src/config/secrets.js';
import { createLogger, prettyLine } from '../src/observability/logger.js';

function capture(format: 'json' | 'pretty') {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const log = createLogger({
    level: 'debug',
    format,
    redactor: new Redactor(['hunter2-secret']),
    stream,
  });
  return { log, text: () => out };
}

test('passwords never reach the log: fields, messages and error messages', () => {
  const { log, text } = capture('json');
  log.info(
    { url: 'postgres://u:hunter2-secret@h/db', source: { url: 'postgres://a:other-pw@h/x' } },
    'connecting',
  );
  log.error(
    { err: new Error('connect failed for postgres://u:hunter2-secret@h/db') },
    'source down',
  );
  log.warn({ conninfo: 'host=h password=plain-pw dbname=d' }, 'conninfo');
  const out = text();
  expect(out).not.toMatch(/hunter2-secret|other-pw|plain-pw/);
  expect(out).toMatch(/postgres:\/\/u:\*\*\*@h\/db/);
  const first = JSON.parse(out.split('\n')[0] ?? '') as Record<string, unknown>;
  expect(first).toMatchObject({ level: 30, msg: 'connecting' });
});

test('pretty lines are one readable line per record', () => {
  const line = prettyLine(
    JSON.stringify({ level: 40, time: 0, msg: 'lag high', table: 'public.t', rows: 3 }),
    false,
  );
  expect(line).toBe('00:00:00.000 WARN  lag high table=public.t rows=3\n');
});

test('Redactor handles URLs with passwords it was not told about', () => {
  const r = new Redactor();
  expect(r.redact('postgres://x:y%40z@h:5432/d and postgresql://only-user@h/d')).toBe(
    'postgres://x:***@h:5432/d and postgresql://only-user@h/d',
  );
});
