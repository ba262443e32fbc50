import { invalidArgument } from '@micro-os/core';

/** Longest lease accepted: one day. */
export const maxTtl = 86_400_000;
export const defaultTtl = 10_000;
export const defaultWait = 10_000;
const maxNameLength = 200;

/** Lock names: dot-separated segments of letters, digits, '_', '-', '/', '=' (safe as Redis keys, NATS KV keys, SQL values). */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > maxNameLength || !validName(name)) {
    throw invalidArgument(
      `invalid lock name ${JSON.stringify(name)}: use letters, digits, '_', '-', '/', '=' in segments joined by '.', at most ${maxNameLength} characters`,
      { field: 'name', name },
    );
  }
  return name;
}

/** Whether every character is allowed and every '.' sits between two segments (a loop: cheaper than a regexp). */
function validName(name: string): boolean {
  let previous = 46; // as if after a '.': the name may not start with one
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const allowed =
      (c >= 97 && c <= 122) || // a-z
      (c >= 65 && c <= 90) || // A-Z
      (c >= 47 && c <= 57) || // '/' and 0-9
      c === 95 || // '_'
      c === 45 || // '-'
      c === 61 || // '='
      (c === 46 && previous !== 46); // '.' after a segment
    if (!allowed) return false;
    previous = c;
  }
  return previous !== 46;
}

/** A duration in ms: finite, `min < value <= max`, rounded up to a whole ms. */
export function checkDuration(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value > max) {
    throw invalidArgument(
      `invalid ${field} ${String(value)}: must be a finite number of ms above ${min} and at most ${max}`,
      {
        field,
        [field]: String(value),
      },
    );
  }
  return Math.ceil(value);
}

export function checkTtl(value: unknown, field = 'ttl'): number {
  return checkDuration(field, value, 0, maxTtl);
}

export function checkWait(value: unknown): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalidArgument(
      `invalid wait ${String(value)}: must be 0 (try once), a positive number of ms or Infinity`,
      {
        field: 'wait',
        wait: String(value),
      },
    );
  }
  return value;
}

export function checkRenewInterval(value: unknown, ttl: number): number {
  const interval = checkDuration('renewInterval', value, 0, maxTtl);
  if (interval >= ttl) {
    throw invalidArgument(`invalid renewInterval ${interval}: must be below the ttl (${ttl} ms)`, {
      field: 'renewInterval',
      renewInterval: interval,
      ttl,
    });
  }
  return interval;
}

export function checkMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument('invalid metadata: must be an object of strings', { field: 'metadata' });
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw invalidArgument(`invalid metadata.${key}: must be a string`, { field: `metadata.${key}` });
    }
  }
  return value as Record<string, string>;
}
