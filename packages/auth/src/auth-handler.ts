import { type CallContext, type HandlerWrapper, MicroError } from '@micro-os/core';
import type { Rules } from './rules.js';
import { type Principal, rejection, type Verifier } from './verifier.js';

export interface AuthHandlerOptions {
  /** Verifies bearer tokens: `auth.verifier` or a `tokenVerifier()` built on the auth service's JWKS. */
  verifier: Verifier;
  /** The access rules; `rules([])` denies everything. */
  rules: Rules;
}

const principals = new WeakMap<CallContext, Principal>();

/** The verified caller of the call being served, inside a handler wrapped by `authHandler()`. */
export function principalOf(context: CallContext): Principal | undefined {
  return principals.get(context);
}

/** The bearer token of `authorization` metadata, or undefined when there is none. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (match === null) throw rejection('malformed', 'authorization metadata is not "Bearer <token>"');
  return match[1];
}

/**
 * Verifies the caller's token and enforces the rules on `service:endpoint`. Failures answer
 * `unauthenticated` (no or bad token, `details.reason`) or `permission_denied`; the handler is not called.
 */
export function authHandler(options: AuthHandlerOptions): HandlerWrapper {
  const { verifier, rules } = options;
  return (next) => async (request, context) => {
    const resource = `${context.service}:${context.endpoint}`;
    const token = bearerToken(context.metadata.authorization);
    const principal = token === undefined ? undefined : await verifier.verify(token);
    const decision = rules.check(principal, resource);
    if (!decision.allowed) {
      if (principal === undefined) throw rejection('missing_token', `${resource} needs an access token`);
      throw new MicroError('permission_denied', `account ${principal.id} may not call ${resource}`, {
        details: { resource, account: principal.id },
      });
    }
    if (principal !== undefined) principals.set(context, principal);
    return next(request, context);
  };
}
