import { MicroError } from '@micro-os/core';
import type { Source } from './source.js';
import { type ConfigObject, isPlainObject } from './tree.js';

export interface EnvSourceOptions {
  /** Only variables starting with this are read, and it is stripped ('MYAPP' and 'MYAPP_' both match MYAPP_DB). @default '' (every variable) */
  prefix?: string;
  /** What separates nesting levels in a name: MYAPP_DB__PORT is db.port. @default '__' */
  separator?: string;
  /** The environment to read. @default process.env */
  env?: Record<string, string | undefined>;
}

/**
 * Environment variables as config: with prefix 'MYAPP', MYAPP_DB__PORT=5432 gives `{ db: { port: '5432' } }`.
 * Names are lower-cased; values stay strings (the typed reads convert). Where a name is both a value and a
 * parent (MYAPP_DB and MYAPP_DB__PORT), the nested one wins. Read once per load; not watched.
 */
export function envSource(options: EnvSourceOptions = {}): Source {
  const separator = options.separator ?? '__';
  if (typeof separator !== 'string' || separator === '') {
    throw new MicroError(
      'invalid_argument',
      `envSource separator must be a non-empty string, got "${separator}"`,
    );
  }
  const rawPrefix = options.prefix ?? '';
  if (typeof rawPrefix !== 'string') {
    throw new MicroError('invalid_argument', `envSource prefix must be a string, got ${typeof rawPrefix}`);
  }
  const prefix = rawPrefix === '' || rawPrefix.endsWith('_') ? rawPrefix : `${rawPrefix}_`;
  const env = options.env ?? process.env;
  return {
    name: prefix === '' ? 'env' : `env:${prefix}`,
    async read() {
      const doc: ConfigObject = {};
      const names = Object.keys(env)
        .filter((name) => name.startsWith(prefix) && name.length > prefix.length)
        .sort((a, b) => a.split(separator).length - b.split(separator).length);
      for (const name of names) {
        const value = env[name];
        if (value === undefined) continue;
        const path = name.slice(prefix.length).toLowerCase().split(separator);
        if (path.some((segment) => segment === '')) continue;
        place(doc, path, value);
      }
      return doc;
    },
    async close() {},
  };
}

function place(doc: ConfigObject, path: string[], value: string): void {
  let node = doc;
  for (const segment of path.slice(0, -1)) {
    const child = node[segment];
    if (isPlainObject(child)) node = child;
    else {
      const fresh: ConfigObject = {};
      node[segment] = fresh;
      node = fresh;
    }
  }
  node[path[path.length - 1] as string] = value;
}
