/** Field names that hold secrets often enough to be hidden by default (matched ignoring case, `-` and `_`). */
export const secretNames: readonly string[] = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'clientSecret',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'xApiKey',
  'privateKey',
  'authorization',
  'proxyAuthorization',
  'cookie',
  'setCookie',
  'sessionId',
];

const normalize = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

const isPlain = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * A test telling most keys apart from every secret name by their first and last characters, before any
 * hashing: false only when no spelling of a secret name (any case, `-` and `_` anywhere) can start and end so.
 */
function endsFilter(secrets: ReadonlySet<string>): (key: string) => boolean {
  const pairs = new Uint8Array(128 * 128);
  const mark = (first: string, last: string): void => {
    for (const f of [first.toLowerCase(), first.toUpperCase()])
      for (const l of [last.toLowerCase(), last.toUpperCase()])
        pairs[(f.charCodeAt(0) << 7) | l.charCodeAt(0)] = 1;
  };
  for (const name of secrets) mark(name.charAt(0), name.charAt(name.length - 1));
  // a separator at either end is dropped by the match, so the letter behind it could be anything
  for (const separator of '-_')
    for (let c = 0; c < 128; c++) {
      pairs[(separator.charCodeAt(0) << 7) | c] = 1;
      pairs[(c << 7) | separator.charCodeAt(0)] = 1;
    }
  return (key) => {
    const first = key.charCodeAt(0);
    const last = key.charCodeAt(key.length - 1);
    // non-ASCII ends (lower-cased by Unicode rules) and the empty key go on to the exact test
    return !(first < 128 && last < 128) || pairs[(first << 7) | last] === 1;
  };
}

/**
 * A function replacing the values of secret-named fields with `censor`, at the top level and `depth - 1`
 * levels down in plain objects (errors, dates and buffers are left alone). Copy on write: the caller's objects
 * are never changed. A line without secrets and without object values costs one cached lookup per key and
 * allocates nothing: `for...in` walks the keys without the array `Object.keys` would make, and values are
 * only looked into when they are objects.
 */
export function secretRedactor(
  censor: string,
  names: readonly string[] = secretNames,
  depth = 3,
): (fields: Record<string, unknown>) => Record<string, unknown> {
  const secrets = new Set(names.map(normalize));
  const mayBeSecret = endsFilter(secrets);
  const seen: Record<string, boolean> = Object.create(null);
  let remembered = 0;
  const isSecret = (key: string): boolean => {
    if (!mayBeSecret(key)) return false;
    let secret = seen[key];
    if (secret === undefined) {
      secret = secrets.has(normalize(key));
      if (remembered++ < 10_000) seen[key] = secret;
    }
    return secret;
  };
  const scrub = (fields: Record<string, unknown>, level: number): Record<string, unknown> => {
    let out: Record<string, unknown> | undefined;
    for (const key in fields) {
      const value = fields[key];
      let next = value;
      if (isSecret(key)) next = censor;
      else if (level > 1 && typeof value === 'object' && isPlain(value)) next = scrub(value, level - 1);
      // for...in also visits inherited keys, which the copy (and pino) leave out
      if (next !== value && Object.hasOwn(fields, key)) {
        out ??= { ...fields };
        out[key] = next;
      }
    }
    return out ?? fields;
  };
  // The common line (no secret names, no object values) passes this loop alone: no call out of it, no copy
  return (fields) => {
    for (const key in fields) {
      const value = fields[key];
      if ((typeof value === 'object' && value !== null) || (mayBeSecret(key) && seen[key] !== false))
        return scrub(fields, depth);
    }
    return fields;
  };
}
