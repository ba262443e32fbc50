import { MicroError } from '@micro-os/core';
import type { AccountRecord, AuthStore, RefreshRecord } from './store.js';

/** Accounts, refresh tokens and revocations in this process: the default, for tests and single nodes. */
export function memoryAuthStore(): AuthStore {
  const accounts = new Map<string, AccountRecord>();
  const refresh = new Map<string, RefreshRecord>();
  const revoked = new Map<string, number>();
  const sweep = (now: number): void => {
    for (const [jti, expires] of revoked) if (expires <= now) revoked.delete(jti);
    for (const [hash, r] of refresh) if (r.expires <= now) refresh.delete(hash);
  };
  let writes = 0;
  const store: AuthStore = {
    name: 'memory',
    async createAccount(record) {
      if (accounts.has(record.id))
        throw new MicroError('already_exists', `account ${JSON.stringify(record.id)} already exists`);
      accounts.set(record.id, structuredClone(record));
    },
    async getAccount(id) {
      const record = accounts.get(id);
      return record === undefined ? undefined : structuredClone(record);
    },
    async deleteAccount(id) {
      return accounts.delete(id);
    },
    async listAccounts() {
      return [...accounts.values()].map((a) => structuredClone(a));
    },
    async putRefreshToken(record) {
      if (++writes % 1000 === 0) sweep(Date.now());
      refresh.set(record.hash, { ...record });
    },
    async takeRefreshToken(hash) {
      const record = refresh.get(hash);
      if (record === undefined) return undefined;
      refresh.delete(hash);
      return record.expires > Date.now() ? record : undefined;
    },
    async revoke(jti, expires) {
      if (++writes % 1000 === 0) sweep(Date.now());
      revoked.set(jti, Math.max(expires, revoked.get(jti) ?? 0));
    },
    async isRevoked(jti) {
      const expires = revoked.get(jti);
      return expires !== undefined && expires > Date.now();
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
  return store;
}
