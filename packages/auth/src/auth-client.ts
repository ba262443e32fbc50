import { type ClientWrapper, invalidArgument, isMicroError } from '@micro-os/core';
import type { Token, TokenRequest } from './auth.js';

export interface AuthClientOptions {
  /** Issues tokens: an `Auth`, or anything with its `token()` (an RPC proxy to the auth service). */
  auth: { token(request: TokenRequest): Promise<Token> };
  /** The service's own account. */
  id: string;
  secret: string;
  /** Refresh when the access token has less than this many ms left. @default 60000 or a fifth of its lifetime, whichever is smaller */
  refreshBefore?: number;
}

/**
 * Attaches the service's own access token to every call (`authorization: Bearer ...`) unless the call
 * already carries one, refreshing it before it expires (with the refresh token, or the secret when that fails).
 */
export function authClient(options: AuthClientOptions): ClientWrapper {
  const { auth, id, secret } = options;
  if (typeof id !== 'string' || id === '') throw invalidArgument('id of the service account is required');
  if (typeof secret !== 'string' || secret === '')
    throw invalidArgument('secret of the service account is required');
  if (options.refreshBefore !== undefined && !(options.refreshBefore >= 0))
    throw invalidArgument(`refreshBefore must be >= 0 ms, got ${options.refreshBefore}`);
  let current: { token: Token; refreshAt: number } | undefined;
  let pending: Promise<Token> | undefined;

  const fetchToken = async (): Promise<Token> => {
    let token: Token | undefined;
    if (current !== undefined) {
      try {
        token = await auth.token({ refreshToken: current.token.refreshToken });
      } catch (err) {
        if (!isMicroError(err, 'unauthenticated')) throw err;
      }
    }
    token ??= await auth.token({ id, secret });
    const now = Date.now();
    const lifetime = token.expires - now;
    const margin = options.refreshBefore ?? Math.min(60_000, lifetime / 5);
    current = { token, refreshAt: token.expires - margin };
    return token;
  };

  const accessToken = async (): Promise<string> => {
    if (current !== undefined && Date.now() < current.refreshAt) return current.token.accessToken;
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    try {
      return (await pending).accessToken;
    } catch (err) {
      // The issuer is unreachable: a token that has not expired yet still serves until it does.
      if (current !== undefined && Date.now() < current.token.expires - 1000)
        return current.token.accessToken;
      throw err;
    }
  };

  return (next) => async (request, callOptions) => {
    if (request.metadata.authorization !== undefined) return next(request, callOptions);
    const token = await accessToken();
    return next(
      { ...request, metadata: { ...request.metadata, authorization: `Bearer ${token}` } },
      callOptions,
    );
  };
}
