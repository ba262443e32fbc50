import { isMicroError } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { type Principal, type Rule, rules } from '../src/index.js';

const principal = (scopes: string[], type: 'user' | 'service' = 'service'): Principal => ({
  id: 'p',
  type,
  scopes,
  metadata: {},
  tokenId: 'j',
  expires: Date.now() + 60_000,
});

describe('rules', () => {
  it('denies by default what no rule allows', () => {
    const r = rules([{ resource: 'greeter:Greeter.Hello', access: 'allow' }]);
    expect(r.check(principal([]), 'greeter:Greeter.Hello').allowed).toBe(true);
    expect(r.check(principal([]), 'greeter:Greeter.Bye').allowed).toBe(false);
    expect(r.check(undefined, 'greeter:Greeter.Hello').allowed).toBe(false);
  });

  it('allows unmatched calls of authenticated accounts when default-deny is off', () => {
    const r = rules([], { defaultDeny: false });
    expect(r.check(principal([]), 'any:Thing').allowed).toBe(true);
    expect(r.check(undefined, 'any:Thing').allowed).toBe(false);
  });

  it('matches wildcards in the service and the endpoint', () => {
    const r = rules([
      { resource: 'greeter:*', access: 'allow' },
      { resource: '*:Health.*', access: 'allow', scope: 'public' },
    ]);
    expect(r.check(principal([]), 'greeter:Greeter.Hello').allowed).toBe(true);
    expect(r.check(undefined, 'billing:Health.Check').allowed).toBe(true);
    expect(r.check(undefined, 'billing:Invoice.Get').allowed).toBe(false);
  });

  it('requires the scope a rule names', () => {
    const r = rules([{ resource: 'billing:*', access: 'allow', scope: 'billing.read' }]);
    expect(r.check(principal(['billing.read']), 'billing:Invoice.Get').allowed).toBe(true);
    expect(r.check(principal(['other']), 'billing:Invoice.Get').allowed).toBe(false);
  });

  it('restricts a rule to an account type', () => {
    const r = rules([{ resource: 'internal:*', access: 'allow', type: 'service' }]);
    expect(r.check(principal([], 'service'), 'internal:Job.Run').allowed).toBe(true);
    expect(r.check(principal([], 'user'), 'internal:Job.Run').allowed).toBe(false);
  });

  it('evaluates higher priority first, and a deny wins at equal priority', () => {
    const list: Rule[] = [
      { resource: '*', access: 'allow', priority: 0 },
      { resource: 'admin:*', access: 'deny', priority: 10 },
      { resource: 'admin:*', access: 'allow', priority: 20, scope: 'admin' },
      { resource: 'shop:*', access: 'allow', priority: 5 },
      { resource: 'shop:*', access: 'deny', priority: 5 },
    ];
    const r = rules(list);
    expect(r.check(principal(['admin']), 'admin:User.Delete').allowed).toBe(true);
    expect(r.check(principal([]), 'admin:User.Delete')).toMatchObject({ allowed: false, rule: list[1] });
    expect(r.check(principal([]), 'shop:Cart.Add').allowed).toBe(false);
    expect(r.check(principal([]), 'blog:Post.Get').allowed).toBe(true);
  });

  const bad: [string, unknown][] = [
    ['a resource without an endpoint', { resource: 'greeter', access: 'allow' }],
    ['an unknown access', { resource: 'a:b', access: 'maybe' }],
    ['a non-finite priority', { resource: 'a:b', access: 'allow', priority: Number.NaN }],
    ['an empty scope', { resource: 'a:b', access: 'allow', scope: '' }],
    ['an unknown account type', { resource: 'a:b', access: 'allow', type: 'robot' }],
  ];
  for (const [what, rule] of bad) {
    it(`rejects ${what} with invalid_argument`, () => {
      let error: unknown;
      try {
        rules([rule as Rule]);
      } catch (e) {
        error = e;
      }
      expect(isMicroError(error, 'invalid_argument')).toBe(true);
    });
  }
});
