import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';

/** The kinds the deployment examples use, by `apiVersion/kind`. */
const MODELS: Record<string, { prototype: { validate(): void } }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object';

/**
 * What is wrong with one manifest for the schema of its kind, as
 * kubernetes-models compiles it from the Kubernetes OpenAPI document: types,
 * required fields, enumerations, formats; and fields the schema does not
 * define. Empty when the manifest is valid.
 *
 * The OpenAPI schemas allow unknown fields, so the validators alone pass a
 * misspelt `readinesProbe` (which the API server refuses: kubectl asks for
 * strict field validation). A validator reads every field its schema
 * defines and enumerates the keys of maps (labels, data), so the manifest is
 * validated through proxies that record what was read: a key that was never
 * read is not in the schema.
 */
export function manifestProblems(doc: unknown): string[] {
  if (!isObject(doc) || Array.isArray(doc)) return ['a document that is not a mapping'];
  const kind = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  const name = isObject(doc.metadata) ? String(doc.metadata.name) : '(no name)';
  const model = MODELS[kind];
  if (!model)
    return [`${kind} ${name}: no schema for this kind here (add its kubernetes-models class)`];
  const reads = new Map<object, Set<string>>();
  const problems: string[] = [];
  try {
    model.prototype.validate.call(watched(doc, reads));
  } catch (err: unknown) {
    problems.push((err as Error).message);
  }
  problems.push(...unread(doc, reads, ''));
  return problems.map((p) => `${kind} ${name}: ${p}`);
}

/** A copy of `value` whose objects and arrays record, in `reads`, the keys read from them ('*': all). */
function watched(value: unknown, reads: Map<object, Set<string>>): unknown {
  if (!isObject(value)) return value;
  const keys = new Set<string>();
  reads.set(value, keys);
  const copy = Array.isArray(value)
    ? value.map((v) => watched(v, reads))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, watched(v, reads)]));
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') keys.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string') keys.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      keys.add('*');
      return Reflect.ownKeys(target);
    },
  });
}

/** `path/key: unknown field` for each key the validator never read (not below it). */
function unread(value: unknown, reads: Map<object, Set<string>>, path: string): string[] {
  if (!isObject(value)) return [];
  const read = reads.get(value);
  // Nothing read: the validator did not go there (a value of the wrong type above it).
  if (!read || read.size === 0) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unread(v, reads, `${path}/${i}`));
  return Object.entries(value).flatMap(([k, v]) =>
    read.has(k) || read.has('*')
      ? unread(v, reads, `${path}/${k}`)
      : [`${path}/${k}: unknown field (not in the schema)`],
  );
}
