import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Redactor } from '../config/secrets.js';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Default: pretty on a terminal, JSON otherwise. */
  format?: 'json' | 'pretty' | undefined;
  redactor: Redactor;
  /** Where lines go (default stderr: stdout stays for command output). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const COLORS: Record<number, string> = {
  10: '90',
  20: '90',
  30: '32',
  40: '33',
  50: '31',
  60: '35',
};

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** `10:42:07.123 INFO  table synced table=public.t rows=1000`, one line per record. */
export function prettyLine(json: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, msg, pid: _pid, hostname: _host, err, ...rest } = rec;
  const lvl = typeof level === 'number' ? level : 30;
  const t = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23);
  const name = (LEVELS[lvl] ?? String(lvl)).padEnd(5);
  const head = color ? `\x1b[${COLORS[lvl] ?? '0'}m${name}\x1b[0m` : name;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  let line = `${t} ${head} ${String(msg ?? '')}${fields ? ` ${color ? `\x1b[2m${fields}\x1b[0m` : fields}` : ''}`;
  if (err && typeof err === 'object') {
    const e = err as { type?: string; message?: string; code?: string };
    line += `\n    ${e.type ?? 'Error'}${e.code ? ` [${e.code}]` : ''}: ${e.message ?? ''}`;
  }
  return `${line}\n`;
}

/**
 * The app's only logger. Every serialized line passes through the redactor,
 * so a password that reached a message (a driver error quoting a URL) is
 * still never written.
 */
export function createLogger(options: LoggerOptions): Logger {
  const out = options.stream ?? process.stderr;
  const pretty = options.format ? options.format === 'pretty' : Boolean(out.isTTY);
  const color = pretty && Boolean(out.isTTY) && !process.env.NO_COLOR;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      out.write(pretty ? prettyLine(text, color) : text);
      cb();
    },
  });
  return pino(
    {
      level: options.level,
      base: null,
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (_label, number) => ({ level: number }) },
      serializers: { err: pino.stdSerializers.err },
      redact: {
        paths: ['password', '*.password', 'url', '*.url', 'connectionString', '*.connectionString'],
        censor: (value: unknown) =>
          typeof value === 'string' ? options.redactor.redact(value) : '***',
      },
      hooks: {
        streamWrite: (s: string) => options.redactor.redact(s),
      },
    },
    sink,
  );
}
