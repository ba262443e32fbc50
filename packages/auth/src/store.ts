/** An account as stored: the public fields and the scrypt hash of its secret. */
export interface AccountRecord {
  id: string;
  type: AccountType;
  scopes: string[];
  metadata: Record<string, string>;
  /** `scrypt$N$r$p$salt$hash`; never the secret. */
  secretHash: string;
  /** Epoch ms. */
  created: number;
}

export type AccountType = 'user' | 'service';

/** A refresh token as stored: only its SHA-256 hash. */
export interface RefreshRecord {
  hash: string;
  accountId: string;
  /** Epoch ms. */
  expires: number;
}

/**
 * Where auth keeps accounts, refresh tokens and revoked access-token ids. Every operation is a single
 * atomic step on the backend, so several auth instances can share one store.
 */
export interface AuthStore {
  readonly name: string;
  /** `already_exists` when the id is taken. */
  createAccount(record: AccountRecord): Promise<void>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  /** True when the account existed. */
  deleteAccount(id: string): Promise<boolean>;
  listAccounts(): Promise<AccountRecord[]>;
  putRefreshToken(record: RefreshRecord): Promise<void>;
  /** Removes and returns the token if it exists and has not expired: of concurrent takes, exactly one wins. */
  takeRefreshToken(hash: string): Promise<RefreshRecord | undefined>;
  /** Revokes an access token id until `expires` (epoch ms), after which the token is dead anyway. */
  revoke(jti: string, expires: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
