import { randomUUID } from 'node:crypto';
import { createClient, createServer, MicroError, memoryRegistry, memoryTransport } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import {
  authClient,
  authHandler,
  createAuth,
  principalOf,
  remoteAuth,
  rules,
  serveAuth,
  type Token,
  type TokenRequest,
  tokenVerifier,
} from '../src/index.js';

describe('auth as a service', () => {
  it('lets services authenticate each other through the auth service and its JWKS', async () => {
    const registry = memoryRegistry();
    const transport = memoryTransport();
    const authName = `auth-${randomUUID().slice(0, 8)}`;
    const greeterName = `greeter-${randomUUID().slice(0, 8)}`;
    const auth = createAuth({ issuer: authName, audience: 'demo' });
    const { secret } = await auth.generate('caller', { type: 'service', scopes: ['greet'] });
    const authServer = createServer({ name: authName, registry, transport });
    serveAuth(authServer, auth);
    await authServer.start();

    const plain = createClient({ registry, transport, retries: 0 });
    const remote = remoteAuth(plain, authName);
    const greeter = createServer({
      name: greeterName,
      registry,
      transport,
      wrappers: [
        authHandler({
          verifier: tokenVerifier({
            algorithms: ['EdDSA'],
            audience: 'demo',
            issuer: authName,
            keys: remote.jwks,
          }),
          rules: rules([{ resource: `${greeterName}:*`, access: 'allow', scope: 'greet' }]),
        }),
      ],
    });
    greeter.handle('Greeter.Hello', (_req, context) => `hello ${principalOf(context)?.id}`);
    await greeter.start();

    const caller = createClient({
      registry,
      transport,
      retries: 0,
      wrappers: [authClient({ auth: remote, id: 'caller', secret })],
    });
    expect(await caller.call(greeterName, 'Greeter.Hello', {})).toBe('hello caller');
    const token = await remote.token({ id: 'caller', secret });
    expect((await remote.inspect(token.accessToken)).id).toBe('caller');
    await remote.revoke(token.accessToken);
    await expect(remote.inspect(token.accessToken)).rejects.toMatchObject({ details: { reason: 'revoked' } });
    await expect(remote.token({ id: 'caller', secret: 'wrong-secret' })).rejects.toMatchObject({
      code: 'unauthenticated',
    });

    await Promise.all([caller.close(), plain.close()]);
    await greeter.stop();
    await authServer.stop();
  });

  it('keeps using a token that has not expired while the issuer is unreachable', async () => {
    const auth = createAuth({ accessTokenTtl: 5000 });
    const { secret } = await auth.generate('svc', { type: 'service' });
    let down = false;
    const issuer = {
      token(request: TokenRequest): Promise<Token> {
        if (down) return Promise.reject(new MicroError('unavailable', 'auth service down'));
        return auth.token(request);
      },
    };
    const seen: string[] = [];
    const wrapper = authClient({ auth: issuer, id: 'svc', secret, refreshBefore: 4999 })(async (request) => {
      seen.push(request.metadata.authorization ?? '');
      return { body: null, metadata: {} };
    });
    const call = () => wrapper({ service: 's', endpoint: 'E.e', body: null, metadata: {} }, {});
    await call();
    down = true;
    await call();
    expect(seen[1]).toBe(seen[0]);
  });
});
