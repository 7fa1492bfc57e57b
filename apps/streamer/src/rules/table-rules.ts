import type { BoundRowRules, RowOp, RowRules } from '@kuvasz/apply';
import type { BoundCopyRules, CopyRowRules } from '@kuvasz/copy-sync';
import { Environment } from '@marcbachmann/cel-js';
import { type CelTypeName, celTypeOf, fromCel, oidOfCelType, toCel } from './cel-values.js';
import { filterToSql } from './sql-pushdown.js';

/**
 * A table's `filter` and `set` expressions (CEL), parsed when the
 * configuration is read and type-checked against the source table's columns
 * whenever they are bound (at startup against the catalog, in the stream at
 * every new shape of the relation). The stream (through `rowRules`) and the
 * initial copy (through `bind`) evaluate the same compiled expressions, on
 * the same text values, so they agree on every row.
 */

export interface ColumnType {
  name: string;
  typeOid: number;
}

/** A filter or set expression that does not compile, or failed on a row. */
export class RuleError extends Error {
  override readonly name = 'RuleError';
  constructor(
    message: string,
    readonly expression: string,
    /** 1-based character position in the expression, when known. */
    readonly position?: number | undefined,
  ) {
    super(message);
  }
}

/** Reads a row's value by the column's index in the bound columns. */
export type ValueAt = (index: number) => string | null;

export interface BoundRules {
  filter?:
    | {
        reads: number[];
        test(get: ValueAt, op: RowOp): boolean;
        /** The part of the filter PostgreSQL can run first (see sql-pushdown.ts), if any. */
        sql: string | undefined;
      }
    | undefined;
  computed: {
    name: string;
    typeOid: number;
    reads: number[];
    value(get: ValueAt, op: RowOp): string | null;
  }[];
}

const IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

interface Node {
  op: string;
  args: unknown;
  pos?: number;
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && 'op' in x && 'args' in x;
}

function walk(x: unknown, visit: (n: Node) => void): void {
  if (Array.isArray(x)) for (const y of x) walk(y, visit);
  else if (isNode(x)) {
    visit(x);
    walk(x.args, visit);
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

function positionOf(err: unknown): number | undefined {
  const node = (err as { node?: { pos?: unknown } } | undefined)?.node;
  return typeof node?.pos === 'number' ? node.pos + 1 : undefined;
}

function failure(what: string, expr: string, err: unknown): RuleError {
  const pos = positionOf(err);
  const msg = err instanceof Error ? firstLine(err.message) : String(err);
  return new RuleError(
    `${what} ${JSON.stringify(expr)}: ${msg}${pos !== undefined ? ` (at character ${pos})` : ''}`,
    expr,
    pos,
  );
}

/** Parses without types: syntax errors only (the columns are known once a source is read). */
function syntaxCheck(what: string, expr: string): RuleError | undefined {
  try {
    new Environment({ unlistedVariablesAreDyn: true }).parse(expr);
    return undefined;
  } catch (e) {
    return failure(what, expr, e);
  }
}

interface Compiled {
  reads: number[];
  resultType: string;
  run: (ctx: Record<string, unknown>) => unknown;
  ast: unknown;
}

export class TableRules {
  private constructor(
    readonly filter: string | undefined,
    readonly set: readonly (readonly [string, string])[],
  ) {}

  /** The table's rules, or the syntax errors of its expressions (`field`: `filter` or `set.<column>`). */
  static parse(
    filter: string | undefined,
    set: Record<string, string> | undefined,
  ): { rules: TableRules | undefined; problems: { field: string; message: string }[] } {
    const problems: { field: string; message: string }[] = [];
    const entries = Object.entries(set ?? {});
    if (filter !== undefined) {
      const err = syntaxCheck('filter', filter);
      if (err) problems.push({ field: 'filter', message: err.message });
    }
    for (const [col, expr] of entries) {
      const err = syntaxCheck(`set.${col}`, expr);
      if (err) problems.push({ field: `set.${col}`, message: err.message });
    }
    if (filter === undefined && entries.length === 0) return { rules: undefined, problems };
    return { rules: problems.length > 0 ? undefined : new TableRules(filter, entries), problems };
  }

  /** Type-checks the expressions against `columns`; throws a `RuleError` naming the expression and the position. */
  bind(columns: readonly ColumnType[], sid: string): BoundRules {
    const types: CelTypeName[] = columns.map((c) => celTypeOf(c.typeOid));
    const strict = new Environment();
    const loose = new Environment();
    const byName = new Map<string, number>();
    columns.forEach((c, i) => {
      if (!IDENT.test(c.name) || RESERVED.has(c.name)) return;
      byName.set(c.name, i);
      strict.registerVariable(c.name, types[i]!);
      // NULL is a value of every column: at run time a column may hold its type or null.
      loose.registerVariable(c.name, 'dyn');
    });
    for (const [name, type] of [
      ['sid', 'string'],
      ['op', 'string'],
    ] as const) {
      if (byName.has(name)) continue;
      strict.registerVariable(name, type);
      loose.registerVariable(name, type);
    }
    const compile = (what: string, expr: string): Compiled => {
      let run: Compiled['run'];
      try {
        run = loose.parse(expr) as unknown as Compiled['run'];
      } catch (e) {
        throw failure(what, expr, e);
      }
      const ast = (run as unknown as { ast: unknown }).ast;
      let comparesNull = false;
      const reads = new Set<number>();
      walk(ast, (n) => {
        if (n.op === 'value' && n.args === null) comparesNull = true;
        if (n.op === 'id' && typeof n.args === 'string') {
          const i = byName.get(n.args);
          if (i !== undefined) reads.add(i);
        }
      });
      // Every column at its own type; where the expression tests for null,
      // columns are checked as dyn (a value of its type, or null).
      let checked = strict.check(expr);
      if (!checked.valid && comparesNull) {
        const relaxed = loose.check(expr);
        if (relaxed.valid) checked = relaxed;
      }
      if (!checked.valid) throw failure(what, expr, checked.error);
      return {
        reads: [...reads].sort((a, b) => a - b),
        resultType: String(checked.type),
        run,
        ast,
      };
    };
    const context = (c: Compiled, get: ValueAt, op: RowOp): Record<string, unknown> => {
      const ctx: Record<string, unknown> = { sid, op };
      for (const i of c.reads) ctx[columns[i]!.name] = toCel(get(i), types[i]!);
      return ctx;
    };
    const evaluate = (what: string, expr: string, c: Compiled, get: ValueAt, op: RowOp) => {
      try {
        return c.run(context(c, get, op));
      } catch (e) {
        throw failure(what, expr, e);
      }
    };

    const out: BoundRules = { computed: [] };
    if (this.filter !== undefined) {
      const expr = this.filter;
      const c = compile('filter', expr);
      if (c.resultType !== 'bool' && c.resultType !== 'dyn') {
        throw new RuleError(
          `filter ${JSON.stringify(expr)}: returns ${c.resultType}, not bool; a filter says whether a row is kept (e.g. status == "open")`,
          expr,
        );
      }
      const named = new Map(
        [...byName].map(([name, i]) => [name, { name, type: types[i]! }] as const),
      );
      out.filter = {
        reads: c.reads,
        sql: filterToSql(c.ast, named),
        test: (get, op) => {
          const v = evaluate('filter', expr, c, get, op);
          if (typeof v !== 'boolean') {
            throw new RuleError(
              `filter ${JSON.stringify(expr)}: returned ${v === null ? 'null' : typeof v}, not a bool`,
              expr,
            );
          }
          return v;
        },
      };
    }
    for (const [name, expr] of this.set) {
      const what = `set.${name}`;
      const c = compile(what, expr);
      out.computed.push({
        name,
        typeOid: oidOfCelType(c.resultType),
        reads: c.reads,
        value: (get, op) => fromCel(evaluate(what, expr, c, get, op)),
      });
    }
    return out;
  }
}

/** The rules in the apply engine's terms: bound to each shape of the relation the stream describes. */
export function rowRules(rules: TableRules): RowRules {
  return {
    bind(relation, source): BoundRowRules {
      const b = rules.bind(relation.columns, source.sid);
      return {
        filter: b.filter && {
          reads: b.filter.reads,
          test: (row, op) => b.filter!.test((i) => row[i] as string | null, op),
        },
        computed: b.computed.map((c) => ({
          name: c.name,
          typeOid: c.typeOid,
          reads: c.reads,
          value: (row, op) => c.value((i) => row[i] as string | null, op),
        })),
      };
    },
  };
}

/**
 * The rules in copy-sync's terms, for one source: a copied row is evaluated
 * as an insert (the row exists; the stream will go on from it).
 */
export function copyRules(rules: TableRules, sid: string): CopyRowRules {
  return {
    bind(columns): BoundCopyRules {
      const b = rules.bind(columns, sid);
      const reads = new Set<number>(b.filter?.reads ?? []);
      for (const c of b.computed) for (const i of c.reads) reads.add(i);
      return {
        reads: [...reads].sort((x, y) => x - y),
        computed: b.computed.map((c) => c.name),
        where: b.filter?.sql,
        row(get) {
          if (b.filter && !b.filter.test(get, 'insert')) return null;
          return b.computed.map((c) => c.value(get, 'insert'));
        },
      };
    },
  };
}
