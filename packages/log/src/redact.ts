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
 * A function replacing the values of secret-named fields with `censor`, at the top level and `depth - 1`
 * levels down in plain objects (errors, dates and buffers are left alone). Copy on write: the caller's objects
 * are never changed, and a line without secrets costs one set lookup per key.
 */
export function secretRedactor(
  censor: string,
  names: readonly string[] = secretNames,
  depth = 3,
): (fields: Record<string, unknown>) => Record<string, unknown> {
  const secrets = new Set(names.map(normalize));
  const seen: Record<string, boolean> = Object.create(null);
  let remembered = 0;
  const isSecret = (key: string): boolean => {
    let secret = seen[key];
    if (secret === undefined) {
      secret = secrets.has(normalize(key));
      if (remembered++ < 10_000) seen[key] = secret;
    }
    return secret;
  };
  const scrub = (fields: Record<string, unknown>, level: number): Record<string, unknown> => {
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(fields);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const value = fields[key];
      let next = value;
      if (isSecret(key)) next = censor;
      else if (level > 1 && isPlain(value)) next = scrub(value, level - 1);
      if (next !== value) {
        out ??= { ...fields };
        out[key] = next;
      }
    }
    return out ?? fields;
  };
  return (fields) => scrub(fields, depth);
}
