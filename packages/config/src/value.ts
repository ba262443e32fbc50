import { MicroError } from '@micro-os/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { parseDuration } from './duration.js';
import type { SecretPaths } from './secret.js';
import { isPlainObject } from './tree.js';

const inspect = Symbol.for('nodejs.util.inspect.custom');
const truthy = new Set(['true', '1', 'yes', 'on']);
const falsy = new Set(['false', '0', 'no', 'off']);

/**
 * The value at one path of a config snapshot, with typed reads. A missing path (or null) gives the
 * default; a present value that does not convert is `invalid_argument` naming the path.
 */
export class Value {
  readonly path: string;
  readonly #raw: unknown;
  readonly #secrets: SecretPaths;

  constructor(path: string, raw: unknown, secrets: SecretPaths) {
    this.path = path;
    this.#raw = raw;
    this.#secrets = secrets;
  }

  /** True when the path holds a value other than null. */
  exists(): boolean {
    return this.#raw !== undefined && this.#raw !== null;
  }

  /** The value as stored (secrets included, unredacted). */
  raw(): unknown {
    return this.#raw;
  }

  /** A number; numeric strings convert ('5432' -> 5432). */
  number(): number | undefined;
  number(fallback: number): number;
  number(fallback?: number): number | undefined {
    if (!this.exists()) return fallback;
    const raw = this.#raw;
    if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
    if (typeof raw === 'string' && raw.trim() !== '') {
      const n = Number(raw.trim());
      if (Number.isFinite(n)) return n;
    }
    throw this.#cannot('a number');
  }

  /** A string; numbers and booleans are turned into their text. */
  string(): string | undefined;
  string(fallback: string): string;
  string(fallback?: string): string | undefined {
    if (!this.exists()) return fallback;
    const raw = this.#raw;
    if (typeof raw === 'string') return raw;
    if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
    throw this.#cannot('a string');
  }

  /** A boolean; also 'true'/'false', '1'/'0', 'yes'/'no', 'on'/'off' (any case) and 1/0. */
  boolean(): boolean | undefined;
  boolean(fallback: boolean): boolean;
  boolean(fallback?: boolean): boolean | undefined {
    if (!this.exists()) return fallback;
    const raw = this.#raw;
    if (typeof raw === 'boolean') return raw;
    const text =
      typeof raw === 'string' ? raw.trim().toLowerCase() : typeof raw === 'number' ? String(raw) : '';
    if (truthy.has(text)) return true;
    if (falsy.has(text)) return false;
    throw this.#cannot('a boolean');
  }

  /** Milliseconds: a number of ms, or a string such as '250ms', '5s', '1m', '1h', '1h30m'. */
  duration(): number | undefined;
  duration(fallback: number | string): number;
  duration(fallback?: number | string): number | undefined {
    if (!this.exists()) {
      if (fallback === undefined) return undefined;
      const ms = parseDuration(fallback);
      if (ms === undefined)
        throw new MicroError('invalid_argument', `default duration "${fallback}" is not valid`);
      return ms;
    }
    const ms = parseDuration(this.#raw);
    if (ms === undefined) throw this.#cannot("a duration (ms, or a string like '250ms', '5s', '1m', '1h')");
    return ms;
  }

  /** A list: an array as is, or a comma-separated string split and trimmed ('a, b' -> ['a', 'b']). */
  list<T = string>(): T[] | undefined;
  list<T = string>(fallback: T[]): T[];
  list<T = string>(fallback?: T[]): T[] | undefined {
    if (!this.exists()) return fallback;
    const raw = this.#raw;
    if (Array.isArray(raw)) return raw as T[];
    if (typeof raw === 'string') {
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '') as T[];
    }
    throw this.#cannot('a list (an array or a comma-separated string)');
  }

  /** An object (map of keys to values). */
  map<T = unknown>(): Record<string, T> | undefined;
  map<T = unknown>(fallback: Record<string, T>): Record<string, T>;
  map<T = unknown>(fallback?: Record<string, T>): Record<string, T> | undefined {
    if (!this.exists()) return fallback;
    if (isPlainObject(this.#raw)) return this.#raw as Record<string, T>;
    throw this.#cannot('a map (an object)');
  }

  /**
   * Validates the value with a Standard Schema (zod 4, valibot, arktype...) and returns its output. A missing
   * path is validated as undefined. Fails with `invalid_argument` naming the path and every issue.
   */
  scan<S extends StandardSchemaV1>(schema: S): StandardSchemaV1.InferOutput<S> {
    const result = schema['~standard'].validate(this.#raw);
    if (result instanceof Promise) {
      throw new MicroError(
        'failed_precondition',
        `the schema for ${this.#name()} validates asynchronously; use scanAsync()`,
      );
    }
    return this.#outcome(result);
  }

  /** `scan` for schemas whose validation is asynchronous. */
  async scanAsync<S extends StandardSchemaV1>(schema: S): Promise<StandardSchemaV1.InferOutput<S>> {
    return this.#outcome(await schema['~standard'].validate(this.#raw));
  }

  /** The value with secrets redacted. */
  toJSON(): unknown {
    return this.#secrets.redact(this.#raw, this.path);
  }

  toString(): string {
    const shown = this.toJSON();
    return typeof shown === 'string' ? shown : (JSON.stringify(shown) ?? 'undefined');
  }

  [inspect](): string {
    return `Value(${this.#name()}: ${this.toString()})`;
  }

  #outcome<T>(result: StandardSchemaV1.Result<T>): T {
    if (result.issues === undefined) return result.value;
    const issues = result.issues.map((issue) => {
      const sub = (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p));
      const path = [this.path, ...sub].filter((s) => s !== '').join('.');
      return { path, message: this.#secrets.scrub(issue.message, this.#raw, this.path) };
    });
    const listed = issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ');
    throw new MicroError('invalid_argument', `config ${this.#name()} is invalid: ${listed}`, {
      details: { path: this.path, issues },
    });
  }

  #name(): string {
    return this.path === '' ? '(root)' : `"${this.path}"`;
  }

  #cannot(expected: string): MicroError {
    const shown = this.#secrets.covers(this.path) ? '[redacted]' : this.toString();
    const type = Array.isArray(this.#raw) ? 'array' : typeof this.#raw;
    return new MicroError(
      'invalid_argument',
      `config ${this.#name()} is not ${expected}: got ${type} ${shown}`,
      {
        details: { path: this.path, expected },
      },
    );
  }
}
