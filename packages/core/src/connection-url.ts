/**
 * Connection strings as libpq users write them, for node-postgres.
 *
 * node-postgres reads `sslmode` its own way unless told otherwise: it treats
 * `require`, `prefer` and `verify-ca` as `verify-full` (so `require` against
 * a server with a private CA fails with "unable to verify the first
 * certificate") and prints a SECURITY WARNING line on stderr, outside any
 * JSON log. With `uselibpqcompat=true` it follows libpq: `require` encrypts
 * without verifying (or verifies the CA when `sslrootcert` is given),
 * `verify-ca` checks the CA, `verify-full` the CA and the host name.
 */

const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'];

/**
 * `url` with libpq's meaning of its TLS parameters: `uselibpqcompat=true`
 * added where it has any of them. `sslmode=allow` (libpq: plain first, TLS
 * if the server insists) becomes `disable`, which node-postgres cannot
 * retry; `prefer` encrypts without verifying, and a server without TLS then
 * refuses (node-postgres cannot fall back to plain). Anything that is not a
 * `postgres://` / `postgresql://` URL comes back unchanged.
 */
export function libpqUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//i.test(url)) return url;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const params = new URLSearchParams(query);
  if (!SSL_PARAMS.some((p) => params.has(p)) || params.has('uselibpqcompat')) return url;
  if (params.get('sslmode') === 'allow') params.set('sslmode', 'disable');
  params.set('uselibpqcompat', 'true');
  return `${url.slice(0, q)}?${params.toString()}${hash < 0 ? '' : url.slice(hash)}`;
}

/**
 * URL parameters node-postgres must not take from a URL. It copies every
 * parameter into its connection settings, over its own: `replication` (the
 * original kuvasz-streamer's map URLs carry `replication=database`) would
 * turn every ordinary connection into a walsender one, where queries fail
 * with "extended query protocol not supported in a replication connection".
 * The replication connections are opened as such by the streamer itself.
 */
const CLIENT_OWNED_PARAMS = new Set(['replication']);

/**
 * `url` without the parameters this client sets itself (see
 * CLIENT_OWNED_PARAMS), and what was removed as `name=value`, for the
 * caller to say so. The other parameters are kept as written. Anything that
 * is not a `postgres://` / `postgresql://` URL comes back unchanged.
 */
export function withoutClientParams(url: string): { url: string; removed: string[] } {
  if (!/^postgres(ql)?:\/\//i.test(url)) return { url, removed: [] };
  const q = url.indexOf('?');
  if (q < 0) return { url, removed: [] };
  const hash = url.indexOf('#', q);
  const parts = url.slice(q + 1, hash < 0 ? undefined : hash).split('&');
  const kept: string[] = [];
  const removed: string[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = decodeParam(eq < 0 ? part : part.slice(0, eq));
    if (CLIENT_OWNED_PARAMS.has(name)) {
      removed.push(`${name}=${eq < 0 ? '' : decodeParam(part.slice(eq + 1))}`);
    } else {
      kept.push(part);
    }
  }
  if (removed.length === 0) return { url, removed };
  const query = kept.filter((p) => p.length > 0).join('&');
  return {
    url: `${url.slice(0, q)}${query ? `?${query}` : ''}${hash < 0 ? '' : url.slice(hash)}`,
    removed,
  };
}

function decodeParam(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** Node's codes for a server certificate this client does not trust. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

// Hints for the failures people meet first; the server's own message goes before them.
const HINTS: Record<string, string> = {
  '28P01': 'check the user name and password',
  '28000':
    'the server refused this role, database or address: check pg_hba.conf (a logical replication connection matches the database name, not the "replication" keyword; a client certificate needs sslcert and sslkey)',
  '3D000': 'check the database name in the connection string',
  '53300':
    'the server has no free connection slot (max_connections, or max_wal_senders for a replication connection)',
  '57P03': 'the server is starting up or shutting down; retry later',
  ECONNREFUSED: 'is the server running and listening on that host and port?',
  ENOTFOUND: 'the host name does not resolve',
  ETIMEDOUT: 'the server did not answer in time',
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the server's certificate does not name this host: connect with a host name its certificate names, or use sslmode=verify-ca to check the CA only",
  CERT_HAS_EXPIRED: "the server's certificate has expired: renew it on the server",
  CERT_NOT_YET_VALID:
    "the server's certificate is not valid yet: check the server's and this machine's clocks",
};

const UNTRUSTED_HINT =
  "the server's certificate is not signed by a CA this client trusts: set sslrootcert=<file of the CA that signed it> (with sslmode=verify-full or verify-ca), or sslmode=require to encrypt without verifying the server";

/** What to do about a connection failure, from its SQLSTATE or Node error code; undefined when nothing useful is known. */
export function connectHint(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNTRUSTED.has(code)) return UNTRUSTED_HINT;
    const hint = HINTS[code];
    if (hint) return hint;
  }
  const message = (e as { message?: unknown }).message;
  if (typeof message === 'string' && /does not support SSL/i.test(message))
    return 'the server does not speak TLS (ssl = off): use sslmode=disable, or turn TLS on in the server';
  return undefined;
}
