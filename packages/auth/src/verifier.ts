import { invalidArgument, MicroError } from '@micro-os/core';
import { importJWK, type JSONWebKeySet, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { type SigningAlgorithm, signingAlgorithms } from './keys.js';
import type { AccountType } from './store.js';

/** The `typ` header of micro-os access tokens (RFC 9068). */
export const accessTokenType = 'at+jwt';

/** Why a token was rejected: `details.reason` of the `unauthenticated` error. */
export type TokenRejection =
  | 'missing_token'
  | 'malformed'
  | 'alg_none'
  | 'alg_not_allowed'
  | 'unknown_crit'
  | 'wrong_type'
  | 'unknown_key'
  | 'bad_signature'
  | 'missing_issuer'
  | 'wrong_issuer'
  | 'missing_audience'
  | 'wrong_audience'
  | 'missing_claim'
  | 'expired'
  | 'not_yet_valid'
  | 'revoked';

/** The caller a verified token speaks for. */
export interface Principal {
  id: string;
  type: AccountType;
  scopes: string[];
  metadata: Record<string, string>;
  /** The token id (`jti`), for revocation. */
  tokenId: string;
  /** Epoch ms when the token expires. */
  expires: number;
}

export interface VerifierOptions {
  /** Algorithms accepted; required, asymmetric only (`EdDSA`, `ES256`). */
  algorithms: readonly SigningAlgorithm[];
  /** The audience tokens must be issued for; required. */
  audience: string;
  /** The issuer tokens must come from. @default any issuer, but the claim must be present */
  issuer?: string;
  /** Public keys: a JWKS or a function returning the current one (called again at most every `keysRefreshInterval`, so new keys appear and retired ones go). */
  keys: JSONWebKeySet | (() => JSONWebKeySet | Promise<JSONWebKeySet>);
  /** Least ms between two calls of a `keys` function; tokens naming an unknown key cannot make it call more often. @default 1000 */
  keysRefreshInterval?: number;
  /** Seconds of clock difference tolerated on `exp` and `nbf`. @default 30 */
  clockSkew?: number;
  /** Revocation list checked after the signature. @default none */
  revocations?: { isRevoked(jti: string): Promise<boolean> };
  /** `crit` header parameters this verifier understands. @default none */
  crit?: readonly string[];
}

export interface Verifier {
  /** The principal of a valid access token; `unauthenticated` with `details.reason` otherwise. */
  verify(token: string): Promise<Principal>;
}

/**
 * The error for a rejected token. It never carries the token, its claims or the library error (whose
 * properties hold the claims), so logging it cannot leak anything the token carried.
 */
export function rejection(reason: TokenRejection, message: string): MicroError {
  return new MicroError('unauthenticated', `access token rejected: ${message}`, { details: { reason } });
}

/** Echoes a header value in a message only when it is short and plain (an algorithm name, not a payload). */
const shown = (value: unknown): string =>
  typeof value === 'string' && /^[A-Za-z0-9+_-]{1,16}$/.test(value) ? value : '(not shown)';

const base64url = /^[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string): unknown {
  if (!base64url.test(segment)) throw rejection('malformed', 'a segment is not base64url');
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw rejection('malformed', 'a segment is not base64url-encoded JSON');
  }
}

interface Header {
  alg?: unknown;
  typ?: unknown;
  kid?: unknown;
  crit?: unknown;
}

/** Builds a verifier; `invalid_argument` without an algorithm allow-list and an audience. */
export function tokenVerifier(options: VerifierOptions): Verifier {
  const algorithms = options?.algorithms;
  if (!Array.isArray(algorithms) || algorithms.length === 0)
    throw invalidArgument('algorithms must list the accepted signing algorithms (EdDSA, ES256)');
  for (const alg of algorithms)
    if (!signingAlgorithms.includes(alg))
      throw invalidArgument(
        `algorithms may only contain ${signingAlgorithms.join(', ')}, got ${JSON.stringify(alg)}`,
      );
  if (typeof options.audience !== 'string' || options.audience === '')
    throw invalidArgument('audience is required');
  if (options.issuer !== undefined && (typeof options.issuer !== 'string' || options.issuer === ''))
    throw invalidArgument('issuer must be a non-empty string');
  const clockSkew = options.clockSkew ?? 30;
  if (!(clockSkew >= 0 && clockSkew <= 300))
    throw invalidArgument(`clockSkew must be between 0 and 300 s, got ${clockSkew}`);
  if (options.keys === undefined)
    throw invalidArgument('keys (a JWKS or a function returning one) is required');
  const crit = new Set(options.crit ?? []);
  const source = options.keys;
  const imported = new Map<string, { alg: string; key: Awaited<ReturnType<typeof importJWK>> }>();
  const refreshInterval = options.keysRefreshInterval ?? 1000;
  if (!(refreshInterval >= 0))
    throw invalidArgument(`keysRefreshInterval must be >= 0 ms, got ${refreshInterval}`);
  let lastFetch = Number.NEGATIVE_INFINITY;

  const load = async (jwks: JSONWebKeySet): Promise<void> => {
    const kids = new Set<string>();
    for (const jwk of jwks.keys ?? []) {
      const kid = (jwk as JWK).kid;
      const alg = (jwk as JWK).alg;
      if (typeof kid !== 'string' || typeof alg !== 'string') continue;
      kids.add(kid);
      if (!imported.has(kid)) imported.set(kid, { alg, key: await importJWK(jwk, alg) });
    }
    for (const kid of imported.keys()) if (!kids.has(kid)) imported.delete(kid);
  };

  const keyFor = async (
    kid: string,
  ): Promise<{ alg: string; key: Awaited<ReturnType<typeof importJWK>> }> => {
    let entry = imported.get(kid);
    const now = Date.now();
    const stale = now - lastFetch >= refreshInterval;
    if (lastFetch === Number.NEGATIVE_INFINITY || (typeof source === 'function' && stale)) {
      lastFetch = now;
      try {
        await load(typeof source === 'function' ? await source() : source);
      } catch (err) {
        throw new MicroError('unavailable', 'the key set (JWKS) could not be loaded', { cause: err });
      }
      entry = imported.get(kid);
    }
    if (entry === undefined) throw rejection('unknown_key', 'signed by a key not in the key set');
    return entry;
  };

  return {
    async verify(token) {
      if (typeof token !== 'string' || token === '') throw rejection('missing_token', 'no token');
      const parts = token.split('.');
      if (parts.length !== 3) throw rejection('malformed', 'not a compact JWS (three segments)');
      const header = decodeSegment(parts[0] as string) as Header;
      if (typeof header !== 'object' || header === null)
        throw rejection('malformed', 'header is not an object');
      if (typeof header.alg === 'string' && header.alg.toLowerCase() === 'none')
        throw rejection('alg_none', 'unsigned tokens (alg none) are never accepted');
      if (typeof header.alg !== 'string' || !(algorithms as readonly string[]).includes(header.alg))
        throw rejection('alg_not_allowed', `algorithm ${shown(header.alg)} is not allowed`);
      if (!base64url.test(parts[1] as string) || !base64url.test(parts[2] as string))
        throw rejection('malformed', 'a segment is not base64url');
      if (header.crit !== undefined) {
        if (!Array.isArray(header.crit) || header.crit.length === 0)
          throw rejection('malformed', 'crit must be a non-empty array');
        for (const name of header.crit)
          if (typeof name !== 'string' || !crit.has(name))
            throw rejection('unknown_crit', `critical header ${shown(name)} is not understood`);
      }
      if (header.typ !== accessTokenType)
        throw rejection('wrong_type', `typ must be ${accessTokenType}, got ${shown(header.typ)}`);
      if (typeof header.kid !== 'string') throw rejection('unknown_key', 'the token names no key (kid)');
      const { alg, key } = await keyFor(header.kid);
      if (alg !== header.alg)
        throw rejection('alg_not_allowed', `the key is not an ${shown(header.alg)} key`);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [alg],
          audience: options.audience,
          ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
          clockTolerance: clockSkew,
          typ: accessTokenType,
          crit: Object.fromEntries([...crit].map((c) => [c, true])),
          requiredClaims: ['iss', 'aud', 'sub', 'exp', 'jti'],
        }));
      } catch (err) {
        throw classify(err);
      }
      const jti = payload.jti as string;
      if (options.revocations !== undefined && (await options.revocations.isRevoked(jti)))
        throw rejection('revoked', 'the token was revoked');
      return principalOf(payload);
    },
  };
}

function classify(err: unknown): MicroError {
  const e = err as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (e?.code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return rejection('bad_signature', 'signature does not match');
    case 'ERR_JWT_EXPIRED':
      return rejection('expired', 'expired beyond the clock-skew allowance');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return rejection('alg_not_allowed', 'algorithm not allowed');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const missing = e.reason === 'missing';
      if (e.claim === 'aud')
        return rejection(
          missing ? 'missing_audience' : 'wrong_audience',
          missing ? 'no audience claim' : 'issued for another audience',
        );
      if (e.claim === 'iss')
        return rejection(
          missing ? 'missing_issuer' : 'wrong_issuer',
          missing ? 'no issuer claim' : 'issued by another issuer',
        );
      if (e.claim === 'nbf') return rejection('not_yet_valid', 'not valid yet (nbf)');
      if (e.claim === 'typ') return rejection('wrong_type', 'typ');
      return rejection(
        missing ? 'missing_claim' : 'malformed',
        `claim ${shown(e.claim)} is missing or invalid`,
      );
    }
    case 'ERR_JOSE_NOT_SUPPORTED':
      return rejection('unknown_crit', 'unsupported header');
    default:
      return rejection('malformed', 'not a valid JWT');
  }
}

function principalOf(payload: JWTPayload): Principal {
  const type = payload.type === 'user' ? 'user' : 'service';
  const scope = typeof payload.scope === 'string' ? payload.scope : '';
  const metadata: Record<string, string> = {};
  if (typeof payload.metadata === 'object' && payload.metadata !== null)
    for (const [k, v] of Object.entries(payload.metadata)) if (typeof v === 'string') metadata[k] = v;
  return {
    id: payload.sub as string,
    type,
    scopes: scope === '' ? [] : scope.split(' '),
    metadata,
    tokenId: payload.jti as string,
    expires: (payload.exp as number) * 1000,
  };
}
