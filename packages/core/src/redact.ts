/**
 * Password redaction for messages and logs: one implementation for URLs,
 * their query parameters and libpq key/value conninfo, safe on any text.
 */

/**
 * A URL in text ends at whitespace, `"`, `<` or `>` (RFC 3986, appendix C):
 * so a URL inside a JSON log line or a quoted message is read alone.
 *
 * `scheme://user:password@host`: the user ends at the first `:`; the
 * password at the last `@` before the query (`?`), fragment (`#`) or end of
 * the URL that is followed by a host part (no further `@` before `/`, `?`,
 * `#` or the end). So an unescaped `@`, `:` or `/` in the password is
 * redacted whole (`postgres://u:p@ss@h/db` keeps neither `p` nor `ss`), and
 * an `@` in a query value is not taken for the end of the userinfo. A
 * password with an unescaped `?` or `#` falls back to the first such `@`.
 * Where the text is ambiguous (an `@` in the database name) more is
 * redacted, never less.
 */
const URL_PASSWORD =
  /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s"<>@]*:)(?:[^\s"<>?#]*|[^\s"<>]*?)@(?=[^@/?#\s"<>]*(?:[/?#\s"<>]|$))/gi;

/** `?password=...` / `&sslpassword=...`: the value ends at the next parameter or the end of the URL. */
const QUERY_PASSWORD = /([?&](?:ssl)?password=)[^&#\s"<>]*/gi;

/**
 * libpq key/value conninfo: `password=x`, `password = x`, `password='a b'`.
 * A quoted value ends at the closing quote; an unquoted one at whitespace or
 * `"` (the end of a JSON string), a backslash escaping the next character.
 */
const KV_PASSWORD =
  /(?<![\w?&])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\[\s\S])*'?|(?:[^\s"\\]|\\[\s\S])*\\?)/gi;

/**
 * Replaces every password in `text` with `***`: in connection URLs
 * (`postgres://u:***@h/db`), their query parameters (`?password=***`) and
 * key/value conninfo (`host=h password=***`), also when they are embedded in a
 * longer message. Text without a password comes back unchanged.
 */
export function redactPasswords(text: string): string {
  return text
    .replace(URL_PASSWORD, '$1***@')
    .replace(QUERY_PASSWORD, '$1***')
    .replace(KV_PASSWORD, '$1***');
}
