import { type CallOptions, invalidArgument } from '@micro-os/core';
import type { JSONWebKeySet } from 'jose';
import type { Auth, Token, TokenRequest } from './auth.js';
import type { Principal } from './verifier.js';

/** Where `serveAuth` registers its endpoints. */
export interface AuthEndpoints {
  handle<Req, Res>(endpoint: string, handler: (request: Req) => Res | Promise<Res>): void;
}

/**
 * Serves an Auth over RPC on a core server: `Auth.Token`, `Auth.Inspect`, `Auth.Revoke`, `Auth.Jwks`.
 * Allow them publicly in the auth service's rules (`{ resource: 'auth:Auth.*', access: 'allow', scope: 'public' }`).
 */
export function serveAuth(server: AuthEndpoints, auth: Auth): void {
  server.handle<TokenRequest, Token>('Auth.Token', (request) => auth.token(request));
  server.handle<{ token: string }, Principal>('Auth.Inspect', (request) => auth.inspect(request?.token));
  server.handle<{ token: string }, Record<string, never>>('Auth.Revoke', async (request) => {
    await auth.revoke(request?.token);
    return {};
  });
  server.handle<unknown, JSONWebKeySet>('Auth.Jwks', () => auth.jwks());
}

/** The caller side of `serveAuth`: pass it to `authClient({ auth })` and `tokenVerifier({ keys: remote.jwks })`. */
export interface RemoteAuth {
  token(request: TokenRequest): Promise<Token>;
  inspect(accessToken: string): Promise<Principal>;
  revoke(token: string): Promise<void>;
  jwks(): Promise<JSONWebKeySet>;
}

/**
 * A client for an auth service served with `serveAuth`. Use a client WITHOUT `authClient()` among its
 * wrappers: fetching a token must not need a token.
 */
export function remoteAuth(
  client: {
    call<Res, Req>(service: string, endpoint: string, request: Req, options?: CallOptions): Promise<Res>;
  },
  service = 'auth',
): RemoteAuth {
  if (typeof service !== 'string' || service === '')
    throw invalidArgument('service must name the auth service');
  return {
    token: (request) => client.call<Token, TokenRequest>(service, 'Auth.Token', request),
    inspect: (token) => client.call<Principal, { token: string }>(service, 'Auth.Inspect', { token }),
    async revoke(token) {
      await client.call<unknown, { token: string }>(service, 'Auth.Revoke', { token });
    },
    jwks: () => client.call<JSONWebKeySet, Record<string, never>>(service, 'Auth.Jwks', {}),
  };
}
