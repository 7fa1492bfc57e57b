import {
  describeTable,
  type Queryable,
  type TableDescription,
  type TableRef,
} from './describe-table.js';
import { displayName, qualifiedName, type TableType } from './target-ddl.js';
import { loadEqualityByType } from './type-equality.js';

export interface TargetColumn {
  name: string;
  /** format_type() text, used for casts. */
  type: string;
  typeOid: number;
  /** Has a btree equality; otherwise compared through `::text`. */
  eq: boolean;
  generated: boolean;
  identityAlways: boolean;
}

/** A target table as the engine uses it, loaded once by `start()`. */
export interface TargetInfo {
  ref: TableRef;
  /** Quoted `"schema"."table"` for SQL. */
  qualified: string;
  /** `schema.table` for messages. */
  display: string;
  type: TableType;
  columns: Map<string, TargetColumn>;
  sid: TargetColumn | undefined;
  /** Unique column sets (for ON CONFLICT arbiters). */
  uniqueKeys: string[][];
  /** Primary key columns other than sid, for naming rows in logs. */
  primaryKey: string[];
  description: TableDescription;
}

export async function loadTargetInfo(
  client: Queryable,
  ref: TableRef,
  type: TableType,
): Promise<{ info?: TargetInfo; description: TableDescription | undefined }> {
  const description = await describeTable(client, ref);
  if (!description) return { description };
  const eq = await loadEqualityByType(
    client,
    description.columns.map((c) => c.typeOid),
  );
  const columns = new Map<string, TargetColumn>();
  for (const c of description.columns) {
    columns.set(c.name, {
      name: c.name,
      type: c.type,
      typeOid: c.typeOid,
      eq: eq.get(c.typeOid) ?? false,
      generated: c.generated,
      identityAlways: c.identityAlways,
    });
  }
  return {
    description,
    info: {
      ref,
      qualified: qualifiedName(ref),
      display: displayName(ref),
      type,
      columns,
      sid: columns.get('sid'),
      primaryKey: description.primaryKey.filter((k) => k !== 'sid'),
      uniqueKeys: description.uniqueKeys,
      description,
    },
  };
}
