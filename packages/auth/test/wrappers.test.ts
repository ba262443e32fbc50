import { randomUUID } from 'node:crypto';
import {
  type Client,
  createClient,
  createServer,
  isMicroError,
  type MicroError,
  memoryRegistry,
  memoryTransport,
  type Server,
} from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Auth,
  authClient,
  authHandler,
  createAuth,
  principalOf,
  rules,
  type Token,
  type TokenRequest,
} from '../src/index.js';

describe('authClient and authHandler', () => {
  const registry = memoryRegistry();
  const transport = memoryTransport();
  const service = `greeter-${randomUUID().slice(0, 8)}`;
  let auth: Auth;
  let server: Server;
  let handled = 0;
  let lastCaller: string | undefined;
  const secrets: Record<string, string> = {};
  const clients: Client[] = [];

  const client = (wrappers: Parameters<typeof createClient>[0]['wrappers'] = []): Client => {
    const c = createClient({ registry, transport, retries: 0, wrappers });
    clients.push(c);
    return c;
  };
  const failure = (p: Promise<unknown>): Promise<MicroError> =>
    p.then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as MicroError,
    );

  beforeAll(async () => {
    auth = createAuth({ accessTokenTtl: 4000 });
    for (const [id, scopes] of [
      ['caller', ['greet']],
      ['intruder', []],
    ] as const)
      secrets[id] = (await auth.generate(id, { type: 'service', scopes: [...scopes] })).secret;
    server = createServer({
      name: service,
      registry,
      transport,
      wrappers: [
        authHandler({
          verifier: auth.verifier,
          rules: rules([
            { resource: `${service}:Greeter.Hello`, access: 'allow', scope: 'greet' },
            { resource: '*:Health.Check', access: 'allow', scope: 'public' },
          ]),
        }),
      ],
    });
    server.handle('Greeter.Hello', (_req, context) => {
      handled++;
      lastCaller = principalOf(context)?.id;
      return 'hello';
    });
    server.handle('Health.Check', () => {
      handled++;
      return 'ok';
    });
    await server.start();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await auth.close();
  });

  it("attaches the service's own token and the handler sees the verified caller", async () => {
    const c = client([authClient({ auth, id: 'caller', secret: secrets.caller as string })]);
    expect(await c.call(service, 'Greeter.Hello', {})).toBe('hello');
    expect(lastCaller).toBe('caller');
  });

  it('answers unauthenticated (missing_token) without a token and never calls the handler', async () => {
    const before = handled;
    const err = await failure(client().call(service, 'Greeter.Hello', {}));
    expect(isMicroError(err, 'unauthenticated')).toBe(true);
    expect(err.details.reason).toBe('missing_token');
    expect(handled).toBe(before);
  });

  it('answers unauthenticated with the reason for a bad token and never calls the handler', async () => {
    const before = handled;
    const c = client();
    const malformed = await failure(
      c.call(service, 'Greeter.Hello', {}, { metadata: { authorization: 'Bearer not.a.jwt' } }),
    );
    expect(malformed).toMatchObject({ code: 'unauthenticated', details: { reason: 'malformed' } });
    const scheme = await failure(
      c.call(service, 'Greeter.Hello', {}, { metadata: { authorization: 'Basic dXNlcjpwYXNz' } }),
    );
    expect(scheme).toMatchObject({ code: 'unauthenticated', details: { reason: 'malformed' } });
    expect(handled).toBe(before);
  });

  it('answers permission_denied to an account the rules do not allow, never calling the handler', async () => {
    const before = handled;
    const c = client([authClient({ auth, id: 'intruder', secret: secrets.intruder as string })]);
    const err = await failure(c.call(service, 'Greeter.Hello', {}));
    expect(isMicroError(err, 'permission_denied')).toBe(true);
    expect(handled).toBe(before);
  });

  it('serves a public endpoint without a token', async () => {
    expect(await client().call(service, 'Health.Check', {})).toBe('ok');
  });

  it('keeps an authorization the caller set itself', async () => {
    const { accessToken } = await auth.token({ id: 'caller', secret: secrets.caller as string });
    const c = client([authClient({ auth, id: 'intruder', secret: secrets.intruder as string })]);
    const metadata = { authorization: `Bearer ${accessToken}` };
    expect(await c.call(service, 'Greeter.Hello', {}, { metadata })).toBe('hello');
    expect(lastCaller).toBe('caller');
  });

  it('refreshes the token before it expires, with the refresh token', async () => {
    const requests: string[] = [];
    const issuer = {
      token(request: TokenRequest): Promise<Token> {
        requests.push('refreshToken' in request ? 'refresh' : 'secret');
        return auth.token(request);
      },
    };
    const c = client([
      authClient({ auth: issuer, id: 'caller', secret: secrets.caller as string, refreshBefore: 2500 }),
    ]);
    await c.call(service, 'Greeter.Hello', {});
    await c.call(service, 'Greeter.Hello', {});
    expect(requests).toEqual(['secret']);
    await new Promise((r) => setTimeout(r, 1600));
    await Promise.all([c.call(service, 'Greeter.Hello', {}), c.call(service, 'Greeter.Hello', {})]);
    expect(requests).toEqual(['secret', 'refresh']);
  });

  it('falls back to the secret when the refresh token no longer works', async () => {
    const requests: string[] = [];
    const issuer = {
      async token(request: TokenRequest): Promise<Token> {
        requests.push('refreshToken' in request ? 'refresh' : 'secret');
        const token = await auth.token(request);
        await auth.revoke(token.refreshToken);
        return token;
      },
    };
    const c = client([
      authClient({ auth: issuer, id: 'caller', secret: secrets.caller as string, refreshBefore: 3990 }),
    ]);
    await c.call(service, 'Greeter.Hello', {});
    await new Promise((r) => setTimeout(r, 50));
    expect(await c.call(service, 'Greeter.Hello', {})).toBe('hello');
    expect(requests).toEqual(['secret', 'refresh', 'secret']);
  });
});

describe('auth accounts', () => {
  it('rejects a wrong secret and an unknown account alike', async () => {
    const auth = createAuth();
    const { secret } = await auth.generate('alice');
    const wrong = await auth.token({ id: 'alice', secret: `${secret}x` }).catch((e: unknown) => e);
    const unknown = await auth.token({ id: 'bob', secret }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 'unauthenticated', details: { reason: 'bad_credentials' } });
    expect(unknown).toMatchObject({ code: 'unauthenticated', message: (wrong as MicroError).message });
  });

  it('stores only a scrypt hash of the secret', async () => {
    const auth = createAuth();
    const { secret, account } = await auth.generate('carol', { type: 'user', scopes: ['a'] });
    expect(account).toMatchObject({ id: 'carol', type: 'user', scopes: ['a'] });
    expect(JSON.stringify(await auth.getAccount('carol'))).not.toContain(secret);
  });

  it('rotates refresh tokens: each works once', async () => {
    const auth = createAuth();
    const { secret } = await auth.generate('dave');
    const first = await auth.token({ id: 'dave', secret });
    const second = await auth.token({ refreshToken: first.refreshToken });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    await expect(auth.token({ refreshToken: first.refreshToken })).rejects.toMatchObject({
      details: { reason: 'bad_refresh_token' },
    });
    await auth.revoke(second.refreshToken);
    await expect(auth.token({ refreshToken: second.refreshToken })).rejects.toMatchObject({
      code: 'unauthenticated',
    });
  });

  it('answers already_exists for a taken id and invalid_argument for bad input', async () => {
    const auth = createAuth();
    await auth.generate('erin');
    await expect(auth.generate('erin')).rejects.toMatchObject({ code: 'already_exists' });
    await expect(auth.generate('bad id with spaces')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(auth.generate('frank', { secret: 'short' })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect(() => createAuth({ accessTokenTtl: 0 })).toThrow(/accessTokenTtl/);
  });
});
