// userinfo ends at the last '@' before the path: an unescaped '@' inside the
// password must not leave its tail visible.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^/?#\s]*@/gi;
// key=value conninfo and URL query parameters: password=..., sslpassword=...
const KV_PASSWORD = /\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)/gi;

/**
 * Replaces every password in a connection URL (`postgres://u:pw@h/db`), its
 * query parameters (`?password=pw`) or a key/value conninfo
 * (`host=h password='p w'`) with `***`. Safe on any text: messages that embed
 * a URL come out redacted too.
 */
export function redactUrl(url: string): string {
  return url.replace(URL_PASSWORD, '$1***@').replace(KV_PASSWORD, '$1***');
}

/** The server and database part of a connection string, for messages. */
export function describeTarget(connectionString: string): string {
  return redactUrl(connectionString);
}
