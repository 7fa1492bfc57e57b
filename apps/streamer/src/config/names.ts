import type { TableRef } from '@kuvasz/core';

/**
 * Parses `table`, `schema.table`, or double-quoted parts (`"My.Table"`,
 * `billing."Invoices"`), the way SQL reads them except that unquoted names
 * keep their case: config keys name tables as they are spelled in the
 * catalog. Returns undefined for a malformed name.
 */
export function parseQualifiedName(text: string, defaultSchema: string): TableRef | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        if (i >= text.length) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i];
        i++;
      }
      parts.push(part);
    } else {
      const end = text.indexOf('.', i);
      const part = end === -1 ? text.slice(i) : text.slice(i, end);
      if (part.includes('"')) return undefined;
      parts.push(part);
      i = end === -1 ? text.length : end;
    }
    if (i >= text.length) break;
    if (text[i] !== '.') return undefined;
    i++;
  }
  if (parts.some((p) => p.length === 0)) return undefined;
  if (parts.length === 1) return { schema: defaultSchema, table: parts[0] as string };
  if (parts.length === 2) return { schema: parts[0] as string, table: parts[1] as string };
  return undefined;
}
