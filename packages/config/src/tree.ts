import { invalidArgument } from '@micro-os/core';

/** A configuration document: a JSON object. */
export type ConfigObject = Record<string, unknown>;

/** True for plain objects (not arrays, not class instances such as Date or a secret wrapper). */
export function isPlainObject(value: unknown): value is ConfigObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Splits a dotted path into segments; the empty path is the root. */
export function splitPath(path: unknown): string[] {
  if (typeof path !== 'string') {
    throw invalidArgument(`config path must be a string, got ${typeof path}`, { path: String(path) });
  }
  if (path === '') return [];
  const segments = path.split('.');
  if (segments.some((s) => s === '')) {
    throw invalidArgument(`config path "${path}" has an empty segment`, { path });
  }
  return segments;
}

/** The value at `segments` in `tree`, or undefined when any step is missing. */
export function getAt(tree: unknown, segments: readonly string[]): unknown {
  let node = tree;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      const index = Number(segment);
      node = Number.isInteger(index) ? node[index] : undefined;
    } else if (isPlainObject(node)) {
      node = Object.hasOwn(node, segment) ? node[segment] : undefined;
    } else return undefined;
  }
  return node;
}

/** Returns a copy of `tree` with `value` placed at `segments`, creating objects on the way. */
export function setAt(tree: ConfigObject, segments: readonly string[], value: unknown): ConfigObject {
  const [head, ...rest] = segments;
  if (head === undefined) {
    if (!isPlainObject(value)) throw invalidArgument('the config root must be an object');
    return value;
  }
  const child = tree[head];
  const next = rest.length === 0 ? value : setAt(isPlainObject(child) ? child : {}, rest, value);
  return { ...tree, [head]: next };
}

/** Deep merge: objects merge key by key, everything else (arrays, scalars) in `over` replaces `base`. */
export function deepMerge(base: ConfigObject, over: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

/** JSON with object keys sorted, so equal values give equal strings (the change checksum). */
export function stableJSON(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!isPlainObject(v)) return v;
    const sorted: ConfigObject = {};
    for (const key of Object.keys(v).sort()) sorted[key] = v[key];
    return sorted;
  });
}

/** Parses a JSON document that must be an object; `what` names where it came from. */
export function parseDocument(text: string, what: string): ConfigObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // the parser's message quotes the text, which may hold secrets: say only what and where
    throw invalidArgument(`${what} is not valid JSON`, { source: what, length: text.length });
  }
  if (!isPlainObject(value)) {
    throw invalidArgument(
      `${what} must hold a JSON object, got ${Array.isArray(value) ? 'array' : typeof value}`,
      {
        source: what,
      },
    );
  }
  return value;
}
