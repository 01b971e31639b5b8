import type { z } from 'zod';

/** Readable lines for zod issues: `field.path: what is wrong`, with a did-you-mean for unknown fields of `schema`. */
export function describeIssues(error: z.ZodError, schema?: z.ZodType): string[] {
  const knownKeys = (path: PropertyKey[]) => (schema ? keysAt(schema, path) : []);
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.map(String).join('.') : '(input)';
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => {
          const field = [...issue.path.map(String), key].join('.');
          const guess = closest(key, knownKeys(issue.path));
          return `${field}: unknown field${guess ? ` (did you mean "${guess}"?)` : ''}`;
        })
        .join('; ');
    }
    return `${where}: ${issue.message}`;
  });
}

/** The known key nearest to `word` by edit distance, when it is a plausible typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  const lower = word.toLowerCase();
  const prefixed = lower.length >= 4 ? candidates.find((c) => c.toLowerCase().startsWith(lower)) : undefined;
  if (prefixed) return prefixed;
  let best: { key: string; distance: number } | undefined;
  for (const key of candidates) {
    const distance = editDistance(word.toLowerCase(), key.toLowerCase());
    if (!best || distance < best.distance) best = { key, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(word.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}

interface SchemaNode {
  _zod: { def: { type: string; innerType?: SchemaNode; element?: SchemaNode; shape?: Record<string, SchemaNode>; in?: SchemaNode } };
}

/** The field names of the object schema found at `path` (through optional, default and array wrappers). */
export function keysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  let node: SchemaNode | undefined = schema as unknown as SchemaNode;
  const unwrap = (n: SchemaNode | undefined): SchemaNode | undefined => {
    for (let i = 0; n && i < 10; i++) {
      const def: SchemaNode['_zod']['def'] = n._zod.def;
      if (def.innerType) n = def.innerType;
      else if (def.type === 'pipe' && def.in) n = def.in;
      else return n;
    }
    return n;
  };
  for (const segment of path) {
    node = unwrap(node);
    const def = node?._zod.def;
    if (def?.type === 'array') node = def.element;
    else if (def?.shape) node = def.shape[String(segment)];
    else return [];
  }
  const shape = unwrap(node)?._zod.def.shape;
  return shape ? Object.keys(shape) : [];
}
