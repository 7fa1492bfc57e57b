/**
 * Replaces the password of a connection URL or key/value conninfo with `***`,
 * for messages and logs.
 */
export function redactConnectionString(conn: string): string {
  let out = conn.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
  out = out.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)/gi, '$1***');
  return out;
}
