import { invalidArgument } from '@micro-os/core';
import type { AccountType } from './store.js';
import type { Principal } from './verifier.js';

/** One access rule. */
export interface Rule {
  /** `service:endpoint`; `*` matches any run of characters (`greeter:*`, `*:Health.*`, `*`). */
  resource: string;
  access: 'allow' | 'deny';
  /** Higher priority rules are evaluated first; at equal priority a deny wins. @default 0 */
  priority?: number;
  /** Whom the rule is about: `'public'` anyone (even without a token), `'*'` any authenticated account, or a scope the account must hold. @default '*' */
  scope?: string;
  /** Only accounts of this type. @default any type */
  type?: AccountType;
}

export interface RulesOptions {
  /** Deny what no rule allows. When false, unmatched calls of authenticated accounts are allowed. @default true */
  defaultDeny?: boolean;
}

export interface Decision {
  allowed: boolean;
  /** The rule that decided; undefined when the default did. */
  rule: Rule | undefined;
}

export interface Rules {
  readonly rules: readonly Rule[];
  check(principal: Principal | undefined, resource: string): Decision;
}

interface Compiled {
  rule: Rule;
  pattern: RegExp;
  priority: number;
  scope: string;
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

/** Compiles rules, checking each: `invalid_argument` names the bad rule. */
export function rules(list: readonly Rule[], options: RulesOptions = {}): Rules {
  if (!Array.isArray(list)) throw invalidArgument('rules must be an array');
  const defaultDeny = options.defaultDeny ?? true;
  const compiled: Compiled[] = list.map((rule, i) => {
    const where = `rules[${i}]`;
    if (
      typeof rule?.resource !== 'string' ||
      !(rule.resource === '*' || /^[^:\s]+:[^:\s]+$/.test(rule.resource))
    )
      throw invalidArgument(
        `${where}.resource must be 'service:endpoint' (wildcards allowed), got ${rule?.resource}`,
      );
    if (rule.access !== 'allow' && rule.access !== 'deny')
      throw invalidArgument(`${where}.access must be 'allow' or 'deny', got ${rule.access}`);
    const priority = rule.priority ?? 0;
    if (!Number.isFinite(priority))
      throw invalidArgument(`${where}.priority must be a finite number, got ${priority}`);
    const scope = rule.scope ?? '*';
    if (typeof scope !== 'string' || scope === '')
      throw invalidArgument(`${where}.scope must be 'public', '*' or a scope name`);
    if (rule.type !== undefined && rule.type !== 'user' && rule.type !== 'service')
      throw invalidArgument(`${where}.type must be 'user' or 'service', got ${rule.type}`);
    return { rule: { ...rule }, pattern: globToRegExp(rule.resource), priority, scope };
  });
  compiled.sort((a, b) =>
    b.priority !== a.priority
      ? b.priority - a.priority
      : a.rule.access === b.rule.access
        ? 0
        : a.rule.access === 'deny'
          ? -1
          : 1,
  );
  const applies = (c: Compiled, principal: Principal | undefined): boolean => {
    if (c.scope !== 'public') {
      if (principal === undefined) return false;
      if (c.scope !== '*' && !principal.scopes.includes(c.scope)) return false;
    }
    return c.rule.type === undefined || principal?.type === c.rule.type;
  };
  return {
    rules: compiled.map((c) => c.rule),
    check(principal, resource) {
      for (const c of compiled)
        if (c.pattern.test(resource) && applies(c, principal))
          return { allowed: c.rule.access === 'allow', rule: c.rule };
      return { allowed: !defaultDeny && principal !== undefined, rule: undefined };
    },
  };
}
