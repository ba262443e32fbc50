import { type ConfigObject, isPlainObject } from './tree.js';

/** What redacted values print as. */
export const redacted = '[redacted]';

const inspect = Symbol.for('nodejs.util.inspect.custom');

/** Marks a value in a source as secret: it is read normally but redacted wherever config prints itself. */
export class Secret<T = unknown> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  /** The wrapped value. */
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return redacted;
  }
  toJSON(): string {
    return redacted;
  }
  [inspect](): string {
    return redacted;
  }
}

/** Wraps `value` so the config marks its path secret: `memorySource({ db: { password: secret('x') } })`. */
export function secret<T>(value: T): Secret<T> {
  return new Secret(value);
}

/** Replaces every Secret in `tree` by its value and adds the paths it was found at to `paths`. */
export function unwrapSecrets(tree: ConfigObject, paths: Set<string>, prefix = ''): ConfigObject {
  const out: ConfigObject = {};
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (value instanceof Secret) {
      paths.add(path);
      out[key] = value.reveal();
    } else out[key] = isPlainObject(value) ? unwrapSecrets(value, paths, path) : value;
  }
  return out;
}

/** The set of secret paths of one config, and the redaction that follows from it. */
export class SecretPaths {
  readonly #paths: ReadonlySet<string>;
  constructor(paths: Iterable<string>) {
    this.#paths = new Set(paths);
  }

  /** True when `path` or any path above it is secret. */
  covers(path: string): boolean {
    if (this.#paths.size === 0) return false;
    if (this.#paths.has(path)) return true;
    for (let i = path.lastIndexOf('.'); i > 0; i = path.lastIndexOf('.', i - 1)) {
      if (this.#paths.has(path.slice(0, i))) return true;
    }
    return false;
  }

  /** A copy of `value` (found at `path`) with every secret inside replaced by '[redacted]'. */
  redact(value: unknown, path: string): unknown {
    if (this.covers(path)) return value === undefined ? undefined : redacted;
    if (this.#paths.size === 0) return value;
    if (isPlainObject(value)) {
      const out: ConfigObject = {};
      for (const [key, child] of Object.entries(value)) {
        out[key] = this.redact(child, path === '' ? key : `${path}.${key}`);
      }
      return out;
    }
    if (Array.isArray(value))
      return value.map((child, i) => this.redact(child, path === '' ? `${i}` : `${path}.${i}`));
    return value;
  }

  /** `text` with every secret leaf value under `path` (in `value`) replaced by '[redacted]'. */
  scrub(text: string, value: unknown, path: string): string {
    let out = text;
    for (const leaf of this.#secretLeaves(value, path, this.covers(path))) {
      if (leaf.length > 0) out = out.split(leaf).join(redacted);
    }
    return out;
  }

  *#secretLeaves(value: unknown, path: string, inside: boolean): Generator<string> {
    const secretHere = inside || this.covers(path);
    if (isPlainObject(value) || Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) {
        yield* this.#secretLeaves(child, path === '' ? key : `${path}.${key}`, secretHere);
      }
    } else if (secretHere && value !== undefined && value !== null) yield String(value);
  }
}
