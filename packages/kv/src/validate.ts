import { invalidArgument } from '@micro-os/core';
import type { WriteCondition } from './driver.js';
import type { PutOptions } from './kv.js';

/** Separates a namespace from the keys below it. */
export const separator = ':';

/** A key: a non-empty string without NUL, at most `max` UTF-8 bytes once namespaced. */
export function checkKey(key: unknown, prefix: string, max: number): string {
  if (typeof key !== 'string') throw invalidArgument(`key must be a string, got ${typeof key}`);
  if (key === '') throw invalidArgument('key must not be empty');
  if (key.includes('\0'))
    throw invalidArgument(`key "${key.replaceAll('\0', '\\0')}" contains a NUL character`);
  const full = prefix + key;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most keys need no encoding to be measured.
  if (full.length * 3 <= max) return full;
  const length = Buffer.byteLength(full, 'utf8');
  if (length > max) {
    throw invalidArgument(
      `key "${key.slice(0, 40)}..." is ${length} bytes, over the backend's limit of ${max}`,
      {
        length,
        max,
      },
    );
  }
  return full;
}

/** A namespace name: a non-empty string without the separator or NUL. */
export function checkNamespace(name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw invalidArgument(`namespace must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (name.includes(separator) || name.includes('\0')) {
    throw invalidArgument(`namespace "${name}" must not contain "${separator}" or NUL`);
  }
  return name;
}

/** A TTL: a finite number of milliseconds above zero, or undefined for no expiry. */
export function checkTtl(ttl: unknown, key: string): number | undefined {
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw invalidArgument(
      `ttl for key "${key}" must be a finite number of milliseconds > 0 (omit it for no expiry), got ${String(ttl)}`,
    );
  }
  return Math.ceil(ttl);
}

export function checkCondition(options: PutOptions, key: string): WriteCondition {
  const { ifVersion, ifAbsent } = options;
  if (ifAbsent !== undefined && typeof ifAbsent !== 'boolean') {
    throw invalidArgument(`ifAbsent for key "${key}" must be a boolean, got ${typeof ifAbsent}`);
  }
  if (ifVersion === undefined) return ifAbsent === true ? { kind: 'absent' } : { kind: 'none' };
  if (ifAbsent === true) throw invalidArgument(`key "${key}": ifVersion and ifAbsent cannot be combined`);
  if (typeof ifVersion !== 'number' || !Number.isSafeInteger(ifVersion) || ifVersion < 1) {
    throw invalidArgument(`ifVersion for key "${key}" must be a positive integer, got ${String(ifVersion)}`);
  }
  return { kind: 'version', version: ifVersion };
}
