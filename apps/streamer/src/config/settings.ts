/**
 * The original kuvasz-streamer's service settings (`[section] param` in its
 * TOML file, `KUVASZ_<section>_<param>` in the environment,
 * `--<section>.<param>=value` on the command line), each with what it
 * becomes in this streamer's configuration (the YAML file's shape), or
 * nothing: accepted and named once at startup as ignored. The `fleet`
 * section is this streamer's own, given the same three ways.
 */

export type SettingKind =
  | 'string'
  | 'address'
  | 'seconds'
  | 'positiveInt'
  | 'positiveNumber'
  | 'bool'
  | 'list'
  | 'logLevel'
  | 'logFormat';

export interface Setting {
  section: string;
  param: string;
  kind: SettingKind;
  /** Where the value goes in the YAML configuration; undefined: ignored here. */
  target: (string | number)[] | undefined;
  /** Never echoed in an error message. */
  secret?: boolean;
}

/** `section.param`, as the original's documentation writes it. */
export function settingName(s: Pick<Setting, 'section' | 'param'>): string {
  return `${s.section}.${s.param}`;
}

const ignored = (section: string, param: string, kind: SettingKind = 'string'): Setting => ({
  section,
  param,
  kind,
  target: undefined,
});

/** A key of this streamer's `fleet` section, given as the original's settings are. */
const ownFleet = (param: string, kind: SettingKind): Setting => ({
  section: 'fleet',
  param,
  kind,
  target: ['fleet', param],
});

export const SETTINGS: readonly Setting[] = [
  ignored('server', 'name'),
  { section: 'server', param: 'address', kind: 'address', target: ['http', 'listen'] },
  ignored('server', 'max_goroutines', 'positiveInt'),
  {
    section: 'server',
    param: 'read_timeout',
    kind: 'seconds',
    target: ['http', 'timeouts', 'read_ms'],
  },
  {
    section: 'server',
    param: 'read_header_timeout',
    kind: 'seconds',
    target: ['http', 'timeouts', 'read_header_ms'],
  },
  {
    section: 'server',
    param: 'write_timeout',
    kind: 'seconds',
    target: ['http', 'timeouts', 'write_ms'],
  },
  {
    section: 'server',
    param: 'idle_timeout',
    kind: 'seconds',
    target: ['http', 'timeouts', 'idle_ms'],
  },
  ignored('server', 'max_header_bytes', 'positiveInt'),
  // The original's sample file writes pprof under [server]; its documentation under [maintenance].
  ignored('server', 'pprof'),
  ignored('maintenance', 'pprof'),
  ignored('maintenance', 'start_delay', 'seconds'),
  { section: 'logs', param: 'level', kind: 'logLevel', target: ['log', 'level'] },
  { section: 'logs', param: 'format', kind: 'logFormat', target: ['log', 'format'] },
  ignored('logs', 'source', 'bool'),
  {
    section: 'database',
    param: 'url',
    kind: 'string',
    target: ['destination', 'url'],
    secret: true,
  },
  { section: 'database', param: 'schema', kind: 'string', target: ['destination', 'schema'] },
  {
    section: 'cors',
    param: 'allowed_origins',
    kind: 'list',
    target: ['http', 'cors', 'allowed_origins'],
  },
  {
    section: 'cors',
    param: 'allow_methods',
    kind: 'list',
    target: ['http', 'cors', 'allow_methods'],
  },
  {
    section: 'cors',
    param: 'allow_headers',
    kind: 'list',
    target: ['http', 'cors', 'allow_headers'],
  },
  {
    section: 'cors',
    param: 'allow_credentials',
    kind: 'bool',
    target: ['http', 'cors', 'allow_credentials'],
  },
  { section: 'cors', param: 'max_age', kind: 'positiveInt', target: ['http', 'cors', 'max_age'] },
  {
    section: 'auth',
    param: 'admin_password',
    kind: 'string',
    target: ['http', 'auth', 'admin_password'],
    secret: true,
  },
  {
    section: 'auth',
    param: 'jwt_key',
    kind: 'string',
    target: ['http', 'auth', 'jwt_key'],
    secret: true,
  },
  { section: 'auth', param: 'ttl', kind: 'positiveInt', target: ['http', 'auth', 'ttl'] },
  // map_file and default_schema are read by the loader (overlay.ts), not copied into the file's shape.
  { section: 'app', param: 'map_file', kind: 'string', target: ['app', 'map_file'] },
  { section: 'app', param: 'map_database', kind: 'string', target: ['map', 'import_sqlite'] },
  { section: 'app', param: 'num_workers', kind: 'positiveInt', target: ['apply', 'workers'] },
  {
    section: 'app',
    param: 'commit_delay',
    kind: 'seconds',
    target: ['apply', 'flush_interval_ms'],
  },
  { section: 'app', param: 'default_schema', kind: 'string', target: ['app', 'default_schema'] },
  {
    section: 'app',
    param: 'sync_rate',
    kind: 'positiveNumber',
    target: ['sync', 'rows_per_second'],
  },
  { section: 'app', param: 'sync_burst', kind: 'positiveInt', target: ['sync', 'burst'] },
  // Not the original's: so that KUVASZ_FLEET_INSTANCE_ID (a pod's name) and a TOML [fleet] work.
  ownFleet('enabled', 'bool'),
  ownFleet('instance_id', 'string'),
  ownFleet('lease_seconds', 'positiveNumber'),
  ownFleet('renew_seconds', 'positiveNumber'),
  ownFleet('take_per_round', 'positiveInt'),
];

export const SECTIONS: readonly string[] = [...new Set(SETTINGS.map((s) => s.section))];

/** The setting named `section.param` (case-insensitive, as viper matches them). */
export function findSetting(section: string, param: string): Setting | undefined {
  const sec = section.toLowerCase();
  const par = param.toLowerCase();
  return SETTINGS.find((s) => s.section === sec && s.param === par);
}

/** Where a value came from, for error messages: the file (and line), a variable, a flag. */
export type Origin =
  | { kind: 'file'; file: string; line: number | undefined }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; name: string };

export function describeOrigin(origin: Origin, setting: Setting): string {
  switch (origin.kind) {
    case 'file':
      return `${origin.file}${origin.line === undefined ? '' : ` line ${origin.line}`}: ${settingName(setting)}`;
    case 'env':
      return `environment ${origin.name}`;
    case 'flag':
      return `flag --${origin.name}`;
  }
}

/** One setting's value as given (a TOML value, or text from the environment or a flag). */
export interface SettingValue {
  setting: Setting;
  value: unknown;
  origin: Origin;
}

/** `--section.param=value` (or `--section.param value`) as parsed from argv. */
export interface SettingFlag {
  name: string;
  value: string;
}

/**
 * Takes `--<section>.<param>=value` and `--<section>.<param> value` out of
 * argv (before the other options are parsed). A flag naming an unknown
 * section or parameter, or without a value, is returned as a problem.
 */
export function splitSettingFlags(argv: string[]): {
  rest: string[];
  flags: SettingFlag[];
  problems: string[];
} {
  const rest: string[] = [];
  const flags: SettingFlag[] = [];
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--([A-Za-z_]+)\.([A-Za-z0-9_]+)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      rest.push(arg);
      continue;
    }
    const [, section = '', param = '', inline] = m;
    const name = `${section}.${param}`;
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(`--${name} needs a value (--${name}=<value>)`);
        continue;
      }
      value = next;
      i++;
    }
    if (!SECTIONS.includes(section.toLowerCase())) {
      problems.push(
        `--${name}: unknown section '${section}' (the sections are ${SECTIONS.join(', ')})`,
      );
    } else if (!findSetting(section, param)) {
      const known = SETTINGS.filter((s) => s.section === section.toLowerCase()).map((s) => s.param);
      problems.push(
        `--${name}: unknown parameter '${param}' of section ${section.toLowerCase()} (its parameters are ${known.join(', ')})`,
      );
    } else {
      flags.push({ name, value });
    }
  }
  return { rest, flags, problems };
}

/** `KUVASZ_<section>_<param>` variables of the environment (any case), in the table's order. */
export function envSettings(env: NodeJS.ProcessEnv): SettingValue[] {
  const byName = new Map<string, string>();
  for (const name of Object.keys(env)) byName.set(name.toUpperCase(), name);
  const out: SettingValue[] = [];
  for (const setting of SETTINGS) {
    const name = byName.get(`KUVASZ_${setting.section}_${setting.param}`.toUpperCase());
    const value = name === undefined ? undefined : env[name];
    if (name !== undefined && value !== undefined)
      out.push({ setting, value, origin: { kind: 'env', name } });
  }
  return out;
}

/** Flags from `splitSettingFlags`, as setting values (the last of a repeated flag wins). */
export function flagSettings(flags: readonly SettingFlag[]): SettingValue[] {
  const out: SettingValue[] = [];
  for (const f of flags) {
    const [section = '', param = ''] = f.name.split('.');
    const setting = findSetting(section, param);
    if (setting) out.push({ setting, value: f.value, origin: { kind: 'flag', name: f.name } });
  }
  return out;
}

/**
 * A setting's value converted to what its YAML key takes, or a message
 * saying what was expected. Text (from the environment or a flag) is read
 * as the original reads it: numbers in decimal, booleans as Go's ParseBool,
 * lists comma-separated.
 */
export function convertSetting(
  setting: Setting,
  value: unknown,
): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = typeof value === 'string' ? value.trim() : undefined;
  const got = setting.secret ? '' : `, got ${JSON.stringify(value)}`;
  const fail = (expected: string) => ({
    ok: false as const,
    message: `expected ${expected}${got}`,
  });
  const num =
    typeof value === 'number'
      ? value
      : text !== undefined && text !== ''
        ? Number(text.replace(/_/g, ''))
        : Number.NaN;
  switch (setting.kind) {
    case 'string':
      if (typeof value !== 'string') return fail('a string');
      return { ok: true, value };
    case 'address': {
      if (typeof value !== 'string') return fail('an address, e.g. ":8000" or "127.0.0.1:8000"');
      const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]*):(\d{1,5})$/.exec(value.trim());
      if (!m || Number(m[2]) > 65535) return fail('an address, e.g. ":8000" or "127.0.0.1:8000"');
      // Go's ":8000" listens on every interface.
      return { ok: true, value: `${m[1] || '0.0.0.0'}:${m[2]}` };
    }
    case 'seconds':
      if (!Number.isFinite(num) || num < 0) return fail('a number of seconds (0 or more)');
      return { ok: true, value: Math.max(1, Math.round(num * 1000)) };
    case 'positiveInt':
      if (!Number.isInteger(num) || num < 1) return fail('a positive integer');
      return { ok: true, value: num };
    case 'positiveNumber':
      if (!Number.isFinite(num) || num <= 0) return fail('a positive number');
      return { ok: true, value: num };
    case 'bool':
      if (typeof value === 'boolean') return { ok: true, value };
      if (text !== undefined && /^(1|t|true)$/i.test(text)) return { ok: true, value: true };
      if (text !== undefined && /^(0|f|false)$/i.test(text)) return { ok: true, value: false };
      return fail('true or false');
    case 'list': {
      const items = Array.isArray(value)
        ? value
        : text !== undefined
          ? text.split(',').map((s) => s.trim())
          : undefined;
      if (!items?.every((i) => typeof i === 'string')) return fail('a list of strings');
      return { ok: true, value: items.filter((i) => i.length > 0) };
    }
    case 'logLevel': {
      const level = text?.toLowerCase();
      if (
        level === undefined ||
        !['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(level)
      )
        return fail('one of debug, info, warn, error');
      return { ok: true, value: level };
    }
    case 'logFormat': {
      const format = text?.toLowerCase();
      if (format === 'text' || format === 'pretty') return { ok: true, value: 'pretty' };
      if (format === 'json') return { ok: true, value: 'json' };
      return fail('text or json');
    }
  }
}
