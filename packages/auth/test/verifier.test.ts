import { randomUUID } from 'node:crypto';
import { isMicroError, type MicroError } from '@micro-os/core';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuth, safeEqual, type TokenRejection, tokenVerifier, type Verifier } from '../src/index.js';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

describe('token verifier: a matrix of bad tokens, each with its own reason', () => {
  const kid = 'key-1';
  let keys: Keys;
  let other: Keys;
  let publicJwk: JWK;
  let verifier: Verifier;

  const claims = (extra: JWTPayload = {}): JWTPayload => ({
    iss: 'issuer',
    aud: 'audience',
    sub: 'svc-a',
    jti: randomUUID(),
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    type: 'service',
    scope: 'read',
    ...extra,
  });
  const sign = (
    payload: JWTPayload,
    header: Record<string, unknown> = {},
    key: Keys['privateKey'] = keys.privateKey,
    critical: Record<string, boolean> = {},
  ): Promise<string> =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt', ...header })
      .sign(key, { crit: critical });
  const drop = (payload: JWTPayload, claim: string): JWTPayload => {
    const copy = { ...payload };
    delete copy[claim];
    return copy;
  };
  const reasonOf = async (token: string): Promise<TokenRejection | undefined> => {
    try {
      await verifier.verify(token);
      return undefined;
    } catch (err) {
      expect(isMicroError(err, 'unauthenticated')).toBe(true);
      return (err as MicroError).details.reason as TokenRejection;
    }
  };

  beforeAll(async () => {
    keys = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    publicJwk = { ...(await exportJWK(keys.publicKey)), kid, alg: 'EdDSA' };
    verifier = tokenVerifier({
      algorithms: ['EdDSA'],
      audience: 'audience',
      issuer: 'issuer',
      clockSkew: 30,
      keys: { keys: [publicJwk] },
    });
  });

  it('accepts a well-formed token and answers its principal', async () => {
    const principal = await verifier.verify(await sign(claims()));
    expect(principal).toMatchObject({ id: 'svc-a', type: 'service', scopes: ['read'] });
  });

  it('accepts a token expired within the clock-skew allowance', async () => {
    expect(await reasonOf(await sign(claims({ exp: now() - 10 })))).toBeUndefined();
  });

  const cases: [string, () => Promise<string>, TokenRejection][] = [
    ['alg: none', async () => `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims())}.`, 'alg_none'],
    [
      'HS256 signed with the public key as the HMAC secret',
      async () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
          .sign(new TextEncoder().encode(JSON.stringify(publicJwk))),
      'alg_not_allowed',
    ],
    [
      'a forged signature (another key, same kid)',
      () => sign(claims(), {}, other.privateKey),
      'bad_signature',
    ],
    [
      'tampered claims (scope raised after signing)',
      async () => {
        const [h, , s] = (await sign(claims())).split('.');
        return `${h}.${b64(claims({ scope: 'admin' }))}.${s}`;
      },
      'bad_signature',
    ],
    ['a missing audience', () => sign(drop(claims(), 'aud')), 'missing_audience'],
    ['a wrong audience', () => sign(claims({ aud: 'someone-else' })), 'wrong_audience'],
    ['a missing issuer', () => sign(drop(claims(), 'iss')), 'missing_issuer'],
    ['a wrong issuer', () => sign(claims({ iss: 'evil' })), 'wrong_issuer'],
    ['expiry beyond the skew allowance', () => sign(claims({ exp: now() - 120 })), 'expired'],
    ['nbf in the future', () => sign(claims({ nbf: now() + 120 })), 'not_yet_valid'],
    ['a wrong typ', () => sign(claims(), { typ: 'JWT' }), 'wrong_type'],
    [
      'an unknown crit header',
      () =>
        sign(claims(), { crit: ['x-deadline'], 'x-deadline': 1 }, keys.privateKey, { 'x-deadline': true }),
      'unknown_crit',
    ],
    [
      'malformed base64',
      async () => {
        const [h, , s] = (await sign(claims())).split('.');
        return `${h}.e30$%^.${s}`;
      },
      'malformed',
    ],
    ['a header that is not base64 JSON', async () => '!!!.e30.AAAA', 'malformed'],
    ['two segments', async () => 'abc.def', 'malformed'],
    ['an unknown key id', () => sign(claims(), { kid: 'key-2' }), 'unknown_key'],
  ];
  for (const [what, make, reason] of cases) {
    it(`rejects ${what} as ${reason}`, async () => {
      expect(await reasonOf(await make())).toBe(reason);
    });
  }

  it('rejects an empty token as missing_token', async () => {
    expect(await reasonOf('')).toBe('missing_token');
  });
});

describe('tokens of an auth service', () => {
  it('rejects a revoked token as revoked', async () => {
    const auth = createAuth({ issuer: 'i', audience: 'a' });
    const { secret } = await auth.generate('svc-r', { type: 'service' });
    const { accessToken } = await auth.token({ id: 'svc-r', secret });
    await auth.inspect(accessToken);
    await auth.revoke(accessToken);
    await expect(auth.inspect(accessToken)).rejects.toMatchObject({ details: { reason: 'revoked' } });
  });

  it('keeps tokens signed before a rotation valid until their key is retired', async () => {
    const auth = createAuth();
    const { secret } = await auth.generate('svc-k', { type: 'service' });
    const before = await auth.token({ id: 'svc-k', secret });
    const oldKid = (await auth.jwks()).keys[0]?.kid;
    await auth.rotateKeys();
    const after = await auth.token({ id: 'svc-k', secret });
    expect((await auth.jwks()).keys.map((k) => k.kid)).toContain(oldKid);
    await auth.inspect(before.accessToken);
    await auth.inspect(after.accessToken);
  });

  it('rejects a token signed by a key removed after rotation as unknown_key', async () => {
    const auth = createAuth();
    const { secret } = await auth.generate('svc-o', { type: 'service' });
    const { accessToken } = await auth.token({ id: 'svc-o', secret });
    await auth.rotateKeys({ keepPrevious: 0 });
    await expect(auth.inspect(accessToken)).rejects.toMatchObject({ details: { reason: 'unknown_key' } });
  });

  it('verifies ES256 tokens and a verifier pinned to EdDSA rejects them', async () => {
    const auth = createAuth({ algorithm: 'ES256' });
    const { secret } = await auth.generate('svc-es', { type: 'service' });
    const { accessToken } = await auth.token({ id: 'svc-es', secret });
    expect((await auth.inspect(accessToken)).id).toBe('svc-es');
    const pinned = tokenVerifier({ algorithms: ['EdDSA'], audience: 'micro-os', keys: () => auth.jwks() });
    await expect(pinned.verify(accessToken)).rejects.toMatchObject({
      details: { reason: 'alg_not_allowed' },
    });
  });

  it('verifies in another service through the published JWKS', async () => {
    const auth = createAuth({ issuer: 'auth', audience: 'fleet' });
    const { secret } = await auth.generate('svc-j', { type: 'service', scopes: ['a', 'b'] });
    const { accessToken } = await auth.token({ id: 'svc-j', secret });
    const jwks = await auth.jwks();
    const remote = tokenVerifier({ algorithms: ['EdDSA'], audience: 'fleet', issuer: 'auth', keys: jwks });
    expect(await remote.verify(accessToken)).toMatchObject({ id: 'svc-j', scopes: ['a', 'b'] });
  });
});

describe('building a verifier', () => {
  const keys = { keys: [] };
  const bad: [string, Parameters<typeof tokenVerifier>[0]][] = [
    ['without an algorithm allow-list', { audience: 'a', keys } as never],
    ['with an empty allow-list', { algorithms: [], audience: 'a', keys }],
    ['allowing HS256', { algorithms: ['HS256'], audience: 'a', keys } as never],
    ['allowing none', { algorithms: ['none'], audience: 'a', keys } as never],
    ['without an audience', { algorithms: ['EdDSA'], keys } as never],
    ['with an empty audience', { algorithms: ['EdDSA'], audience: '', keys }],
  ];
  for (const [what, options] of bad) {
    it(`fails ${what} with invalid_argument`, () => {
      let error: unknown;
      try {
        tokenVerifier(options);
      } catch (e) {
        error = e;
      }
      expect(isMicroError(error, 'invalid_argument')).toBe(true);
    });
  }
});

describe('secret comparison', () => {
  it('is true for equal secrets and false for different ones of the same length', () => {
    expect(safeEqual('correct horse', 'correct horse')).toBe(true);
    expect(safeEqual('correct horse', 'correct house')).toBe(false);
  });

  it('answers false, never throws, on unequal lengths', () => {
    expect(safeEqual('short', 'a much longer secret')).toBe(false);
    expect(safeEqual(new Uint8Array(3), new Uint8Array(4))).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
  });
});
