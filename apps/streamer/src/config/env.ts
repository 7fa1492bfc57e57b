import type { ConfigIssue } from '../errors.js';

/**
 * Replaces `${VAR}` (and `${VAR:-default}`) in every string of a parsed
 * document with the environment's value; `$${` stays a literal `${`. Done
 * on parsed values, never on the raw text, so a value cannot inject YAML.
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  issues: { path: (string | number)[]; message: string }[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (whole, escaped, name: string, fallback?: string) => {
        if (escaped) return whole.slice(1);
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        issues.push({
          path,
          message: `environment variable ${name} is not set (referenced as \${${name}})`,
        });
        return '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...path, i], issues));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, [...path, k], issues);
    return out;
  }
  return value;
}

export type { ConfigIssue };
