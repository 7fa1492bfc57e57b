import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';

export type Path = (string | number)[];

/** A parsed YAML file whose values can be traced back to their lines. */
export interface YamlDoc {
  value: unknown;
  /** A bare list of databases (the original's map.yaml). */
  isList: boolean;
  /** `path (line N)` for a path of the document, or the path alone when it is not in the file. */
  where(path: Path): string;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** Parses YAML text; syntax errors are a ConfigError naming line and column. */
export function readYamlDoc(text: string, file: string): YamlDoc {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          path: `line ${pos.line}, column ${pos.col}`,
          message: `YAML: ${e.message.split('\n')[0]}`,
        };
      }),
    );
  }
  const isList = isSeq(doc.contents);
  if (!isList && !isMap(doc.contents)) {
    throw new ConfigError(file, [
      {
        path: '',
        message:
          'expected a mapping with destination and databases, or a kuvasz-streamer map file (a list of databases)',
      },
    ]);
  }
  return {
    value: doc.toJS(),
    isList,
    where(path) {
      const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      const offset = node?.range?.[0];
      const shown = isList ? formatPath(path) || '(top level)' : formatPath(path);
      if (offset === undefined) return shown;
      return `${shown} (line ${lines.linePos(offset).line})`;
    },
  };
}
