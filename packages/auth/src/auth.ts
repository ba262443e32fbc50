import { createHash, randomUUID } from 'node:crypto';
import { invalidArgument, MicroError } from '@micro-os/core';
import { type JSONWebKeySet, SignJWT } from 'jose';
import { KeyRing, type SigningAlgorithm } from './keys.js';
import { memoryAuthStore } from './memory-store.js';
import { decoyHash, hashSecret, randomToken, verifySecret } from './secret.js';
import type { AccountRecord, AccountType, AuthStore } from './store.js';
import { accessTokenType, type Principal, tokenVerifier, type Verifier } from './verifier.js';

/** An account without its secret. */
export interface Account {
  id: string;
  type: AccountType;
  scopes: string[];
  metadata: Record<string, string>;
  created: number;
}

export interface GenerateOptions {
  /** @default 'user' */
  type?: AccountType;
  /** @default [] */
  scopes?: string[];
  /** @default {} */
  metadata?: Record<string, string>;
  /** The secret to set. @default 32 random bytes, base64url */
  secret?: string;
}

/** What `token()` answers. */
export interface Token {
  accessToken: string;
  /** Opaque, single use: `token({ refreshToken })` answers a new pair and the old one stops working. */
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expires: number;
  tokenType: 'Bearer';
}

export type TokenRequest = { id: string; secret: string } | { refreshToken: string };

export interface AuthOptions {
  /** @default memoryAuthStore() */
  store?: AuthStore;
  /** `iss` of the tokens. @default 'micro-os' */
  issuer?: string;
  /** `aud` of the tokens. @default 'micro-os' */
  audience?: string;
  /** @default 'EdDSA' */
  algorithm?: SigningAlgorithm;
  /** Access-token lifetime, ms. @default 900000 (15 min) */
  accessTokenTtl?: number;
  /** Refresh-token lifetime, ms. @default 2592000000 (30 days) */
  refreshTokenTtl?: number;
  /** Clock difference tolerated when verifying, seconds. @default 30 */
  clockSkew?: number;
}

/** Accounts, tokens, key rotation and verification. */
export interface Auth {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithm: SigningAlgorithm;
  /** Creates an account; answers it with its secret (shown once; only a scrypt hash is stored). */
  generate(id: string, options?: GenerateOptions): Promise<{ account: Account; secret: string }>;
  /** Exchanges credentials or a refresh token for a fresh token pair; `unauthenticated` otherwise. */
  token(request: TokenRequest): Promise<Token>;
  /** The principal of a valid access token; `unauthenticated` with `details.reason` otherwise. */
  inspect(accessToken: string): Promise<Principal>;
  /** Revokes an access token (until it expires) or a refresh token. */
  revoke(token: string): Promise<void>;
  getAccount(id: string): Promise<Account | undefined>;
  deleteAccount(id: string): Promise<boolean>;
  /** Signs new tokens with a new key; the old public key stays in the JWKS for `keepPrevious` ms. @default keepPrevious = accessTokenTtl + clockSkew */
  rotateKeys(options?: { keepPrevious?: number }): Promise<string>;
  /** The public keys verifiers need (serve it to other services). */
  jwks(): Promise<JSONWebKeySet>;
  /** The verifier this instance uses: pinned algorithm, issuer, audience, skew and the store's revocations. */
  readonly verifier: Verifier;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const accountId = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
const refreshPrefix = 'mrt_';
const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');
const publicOf = (r: AccountRecord): Account => ({
  id: r.id,
  type: r.type,
  scopes: [...r.scopes],
  metadata: { ...r.metadata },
  created: r.created,
});

const badCredentials = (): MicroError =>
  new MicroError('unauthenticated', 'invalid account id or secret', {
    details: { reason: 'bad_credentials' },
  });
const badRefresh = (): MicroError =>
  new MicroError('unauthenticated', 'refresh token is unknown, used or expired', {
    details: { reason: 'bad_refresh_token' },
  });

/** Builds the auth service on a store (memory by default). */
export function createAuth(options: AuthOptions = {}): Auth {
  const store = options.store ?? memoryAuthStore();
  const ownStore = options.store === undefined;
  const issuer = options.issuer ?? 'micro-os';
  const audience = options.audience ?? 'micro-os';
  const algorithm = options.algorithm ?? 'EdDSA';
  const accessTtl = options.accessTokenTtl ?? 900_000;
  const refreshTtl = options.refreshTokenTtl ?? 30 * 24 * 3600_000;
  const clockSkew = options.clockSkew ?? 30;
  if (!(accessTtl >= 1000)) throw invalidArgument(`accessTokenTtl must be >= 1000 ms, got ${accessTtl}`);
  if (!(refreshTtl >= accessTtl))
    throw invalidArgument(`refreshTokenTtl must be >= accessTokenTtl (${accessTtl} ms), got ${refreshTtl}`);
  if (typeof issuer !== 'string' || issuer === '') throw invalidArgument('issuer must be a non-empty string');
  const keys = new KeyRing(algorithm);
  const verifier = tokenVerifier({
    algorithms: [algorithm],
    audience,
    issuer,
    clockSkew,
    keys: () => keys.jwks(),
    // In process the key ring is cheap to read: rotations and retirements take effect at once.
    keysRefreshInterval: 0,
    revocations: store,
  });

  const issue = async (account: AccountRecord): Promise<Token> => {
    const key = await keys.current();
    const now = Date.now();
    const expires = now + accessTtl;
    const accessToken = await new SignJWT({
      type: account.type,
      scope: account.scopes.join(' '),
      metadata: account.metadata,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: accessTokenType })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(account.id)
      .setJti(randomUUID())
      .setIssuedAt(Math.floor(now / 1000))
      .setNotBefore(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(expires / 1000))
      .sign(key.privateKey);
    const refreshToken = randomToken(refreshPrefix);
    await store.putRefreshToken({
      hash: sha256(refreshToken),
      accountId: account.id,
      expires: now + refreshTtl,
    });
    return { accessToken, refreshToken, expires: Math.floor(expires / 1000) * 1000, tokenType: 'Bearer' };
  };

  const auth: Auth = {
    issuer,
    audience,
    algorithm,
    verifier,
    async generate(id, generateOptions = {}) {
      if (typeof id !== 'string' || !accountId.test(id))
        throw invalidArgument(
          // The value is not echoed: a secret passed in the wrong argument must not reach a log.
          `account id must be 1-128 letters, digits or . _ @ : - (got ${typeof id === 'string' ? `${id.length} characters` : typeof id})`,
        );
      const type = generateOptions.type ?? 'user';
      if (type !== 'user' && type !== 'service')
        throw invalidArgument(`type must be 'user' or 'service', got ${JSON.stringify(type)}`);
      const scopes = generateOptions.scopes ?? [];
      for (const scope of scopes)
        if (typeof scope !== 'string' || !/^[\x21-\x7e]+$/.test(scope))
          throw invalidArgument(
            `scopes must be non-empty strings without spaces, got ${JSON.stringify(scope)}`,
          );
      const metadata = { ...generateOptions.metadata };
      for (const [k, v] of Object.entries(metadata))
        if (typeof v !== 'string') throw invalidArgument(`metadata.${k} must be a string`);
      const secret = generateOptions.secret ?? randomToken('');
      if (typeof secret !== 'string' || secret.length < 8)
        throw invalidArgument('secret must be a string of at least 8 characters');
      const record: AccountRecord = {
        id,
        type,
        scopes: [...scopes],
        metadata,
        secretHash: await hashSecret(secret),
        created: Date.now(),
      };
      await store.createAccount(record);
      return { account: publicOf(record), secret };
    },
    async token(request) {
      if (typeof request !== 'object' || request === null)
        throw invalidArgument('token needs { id, secret } or { refreshToken }');
      if ('refreshToken' in request) {
        if (typeof request.refreshToken !== 'string' || !request.refreshToken.startsWith(refreshPrefix))
          throw badRefresh();
        const record = await store.takeRefreshToken(sha256(request.refreshToken));
        if (record === undefined) throw badRefresh();
        const account = await store.getAccount(record.accountId);
        if (account === undefined) throw badRefresh();
        return issue(account);
      }
      const { id, secret } = request;
      if (typeof id !== 'string' || typeof secret !== 'string') throw badCredentials();
      const account = accountId.test(id) ? await store.getAccount(id) : undefined;
      // Unknown accounts cost one scrypt too, so timing does not tell which ids exist.
      const ok = await verifySecret(secret, account?.secretHash ?? decoyHash);
      if (account === undefined || !ok) throw badCredentials();
      return issue(account);
    },
    inspect(accessToken) {
      return verifier.verify(accessToken);
    },
    async revoke(token) {
      if (typeof token !== 'string' || token === '') throw invalidArgument('token to revoke is required');
      if (token.startsWith(refreshPrefix)) {
        await store.takeRefreshToken(sha256(token));
        return;
      }
      const principal = await verifier.verify(token);
      await store.revoke(principal.tokenId, principal.expires + clockSkew * 1000);
    },
    async getAccount(id) {
      const record = await store.getAccount(id);
      return record === undefined ? undefined : publicOf(record);
    },
    deleteAccount(id) {
      return store.deleteAccount(id);
    },
    rotateKeys(rotateOptions = {}) {
      return keys.rotate(rotateOptions.keepPrevious ?? accessTtl + clockSkew * 1000);
    },
    jwks() {
      return keys.jwks();
    },
    async close() {
      if (ownStore) await store.close();
    },
    async [Symbol.asyncDispose]() {
      await auth.close();
    },
  };
  return auth;
}
