import { parseArgs } from 'node:util';
import { type SettingFlag, splitSettingFlags } from '../config/settings.js';
import { StreamerError } from '../errors.js';

export const COMMANDS = [
  'run',
  'validate',
  'plan',
  'status',
  'cutover',
  'teardown',
  'demo',
  'schema',
  'status-schema',
  'help',
  'version',
] as const;
export type Command = (typeof COMMANDS)[number];

export interface CliArgs {
  command: Command | undefined;
  /** `help <command>`: the command whose help to print. */
  topic: string | undefined;
  help: boolean;
  version: boolean;
  config: string | undefined;
  /** `--conf <file>`: the original's TOML configuration. */
  conf: string | undefined;
  map: string | undefined;
  /** `--<section>.<param>=value`: the original's settings, over the file and the environment. */
  settings: SettingFlag[];
  destination: string | undefined;
  logLevel: string | undefined;
  logFormat: 'json' | 'pretty' | undefined;
  json: boolean;
  apply: boolean;
  yes: boolean;
  durationS: number | undefined;
  timeoutMs: number | undefined;
}

function positiveNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new StreamerError('usage', `--${name} expects a positive number, got '${v}'`);
  return n;
}

export function parseCli(argv: string[]): CliArgs {
  const settings = splitSettingFlags(argv);
  if (settings.problems.length > 0)
    throw new StreamerError('usage', `${settings.problems.join('; ')}; run kuvasz-streamer --help`);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(settings.rest);
  } catch (err: unknown) {
    throw new StreamerError(
      'usage',
      `${(err as Error).message.replace(/\. To specify.*$/s, '')}; run kuvasz-streamer --help`,
    );
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (first !== undefined && !(COMMANDS as readonly string[]).includes(first)) {
    throw new StreamerError('usage', `unknown command '${first}'; run kuvasz-streamer --help`);
  }
  const topic = first === 'help' ? rest.shift() : undefined;
  if (topic !== undefined && !(COMMANDS as readonly string[]).includes(topic))
    throw new StreamerError('usage', `unknown command '${topic}'; run kuvasz-streamer help`);
  if (rest.length > 0)
    throw new StreamerError(
      'usage',
      `unexpected argument '${rest[0]}'; run kuvasz-streamer --help`,
    );
  const logFormat = values['log-format'];
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') {
    throw new StreamerError('usage', `--log-format expects json or pretty, got '${logFormat}'`);
  }
  if ([values.config, values.conf, values.map].filter(Boolean).length > 1)
    throw new StreamerError('usage', 'give one of -c <file>, --conf <file> or --map <file>');
  return {
    command: first as Command | undefined,
    topic,
    help: values.help ?? false,
    version: values.version ?? false,
    config: values.config,
    conf: values.conf,
    map: values.map,
    settings: settings.flags,
    destination: values.destination,
    logLevel: values['log-level'],
    logFormat,
    json: values.json ?? false,
    apply: values.apply ?? false,
    yes: values.yes ?? false,
    durationS: positiveNumber('duration-s', values['duration-s']),
    timeoutMs: positiveNumber('timeout-ms', values['timeout-ms']),
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
      config: { type: 'string', short: 'c' },
      conf: { type: 'string' },
      map: { type: 'string' },
      destination: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      json: { type: 'boolean' },
      apply: { type: 'boolean' },
      yes: { type: 'boolean' },
      'duration-s': { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  });
}
