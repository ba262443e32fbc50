import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuth } from './auth.js';
import type { AccountRecord, AuthStore } from './store.js';

export interface AuthStoreSuiteOptions {
  /** A store on a fresh or shared backend; the suite uses unique ids per run. */
  create: () => Promise<AuthStore> | AuthStore;
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const account = (id: string): AccountRecord => ({
  id,
  type: 'service',
  scopes: ['read', 'write'],
  metadata: { team: 'core' },
  secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
  created: 1_700_000_000_000,
});

/** The AuthStore contract: every backend passes it. */
export function authStoreSuite(name: string, options: AuthStoreSuiteOptions): void {
  describe(`AuthStore conformance: ${name}`, () => {
    let store: AuthStore;
    beforeAll(async () => {
      store = await options.create();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('stores an account and reads it back unchanged', async () => {
      const id = unique('acct');
      await store.createAccount(account(id));
      expect(await store.getAccount(id)).toEqual(account(id));
    });

    it('answers already_exists when the account id is taken', async () => {
      const id = unique('acct');
      await store.createAccount(account(id));
      const err = await store.createAccount({ ...account(id), scopes: [] }).catch((e: unknown) => e);
      expect(isMicroError(err, 'already_exists')).toBe(true);
      expect((await store.getAccount(id))?.scopes).toEqual(['read', 'write']);
    });

    it('answers undefined for an unknown account', async () => {
      expect(await store.getAccount(unique('nobody'))).toBeUndefined();
    });

    it('deletes an account once', async () => {
      const id = unique('acct');
      await store.createAccount(account(id));
      expect(await store.deleteAccount(id)).toBe(true);
      expect(await store.deleteAccount(id)).toBe(false);
      expect(await store.getAccount(id)).toBeUndefined();
    });

    it('lists the accounts', async () => {
      const id = unique('listed');
      await store.createAccount(account(id));
      expect((await store.listAccounts()).map((a) => a.id)).toContain(id);
    });

    it('hands out a refresh token exactly once', async () => {
      const hash = unique('hash');
      await store.putRefreshToken({ hash, accountId: 'a', expires: Date.now() + 60_000 });
      expect(await store.takeRefreshToken(hash)).toMatchObject({ hash, accountId: 'a' });
      expect(await store.takeRefreshToken(hash)).toBeUndefined();
    });

    it('lets exactly one of ten concurrent takes win', async () => {
      const hash = unique('hash');
      await store.putRefreshToken({ hash, accountId: 'a', expires: Date.now() + 60_000 });
      const taken = await Promise.all(Array.from({ length: 10 }, () => store.takeRefreshToken(hash)));
      expect(taken.filter((t) => t !== undefined)).toHaveLength(1);
    });

    it('does not hand out an expired refresh token', async () => {
      const hash = unique('hash');
      await store.putRefreshToken({ hash, accountId: 'a', expires: Date.now() + 50 });
      await sleep(120);
      expect(await store.takeRefreshToken(hash)).toBeUndefined();
    });

    it('answers undefined for an unknown refresh token', async () => {
      expect(await store.takeRefreshToken(unique('never'))).toBeUndefined();
    });

    it('remembers a revocation until the token expires', async () => {
      const jti = unique('jti');
      expect(await store.isRevoked(jti)).toBe(false);
      await store.revoke(jti, Date.now() + 60_000);
      expect(await store.isRevoked(jti)).toBe(true);
      const short = unique('jti');
      await store.revoke(short, Date.now() + 50);
      expect(await store.isRevoked(short)).toBe(true);
      await sleep(120);
      expect(await store.isRevoked(short)).toBe(false);
    });

    it('backs an auth service end to end: credentials, rotated refresh, revocation', async () => {
      const auth = createAuth({ store });
      const id = unique('svc');
      const { secret } = await auth.generate(id, { type: 'service', scopes: ['greet'] });
      const first = await auth.token({ id, secret });
      expect((await auth.inspect(first.accessToken)).id).toBe(id);
      const second = await auth.token({ refreshToken: first.refreshToken });
      const reused = await auth.token({ refreshToken: first.refreshToken }).catch((e: unknown) => e);
      expect(isMicroError(reused, 'unauthenticated')).toBe(true);
      await auth.revoke(second.accessToken);
      const revoked = await auth.inspect(second.accessToken).catch((e: unknown) => e);
      expect((revoked as { details?: { reason?: string } }).details?.reason).toBe('revoked');
      await auth.close();
    });
  });
}
