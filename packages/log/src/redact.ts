/** Field names that hold secrets often enough to be hidden by default, at any of the first three levels. */
export const secretNames: readonly string[] = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'apiKey',
  'api_key',
  'x-api-key',
  'privateKey',
  'private_key',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'Set-Cookie',
  'sessionId',
  'session_id',
];

const key = (name: string): string => (/^[a-zA-Z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);

/** The redaction paths for the secret names: `password`, `*.password`, `*.*.password`. */
export function secretPaths(names: readonly string[] = secretNames): string[] {
  return names.flatMap((name) => {
    const k = key(name);
    return [k.startsWith('.') ? k.slice(1) : k, `*${k}`, `*.*${k}`];
  });
}
