import { isMicroError, memoryRegistry } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { type RouterOptions, routerSelector } from '../src/index.js';

const registry = memoryRegistry();
const bad: [string, Omit<RouterOptions, 'registry'>][] = [
  ['an error-rate threshold of 0', { breaker: { errorRate: 0 } }],
  ['a negative error-rate threshold', { breaker: { errorRate: -0.5 } }],
  ['an error rate above 1', { breaker: { errorRate: 1.5 } }],
  ['a minimum of 0 calls', { breaker: { minCalls: 0 } }],
  ['a cool-down of 0', { breaker: { coolDown: 0 } }],
  ['a negative cool-down', { breaker: { coolDown: -10 } }],
  ['a window of 0', { breaker: { window: 0 } }],
  ['a consecutive-failure threshold of 0', { ejection: { consecutiveFailures: 0 } }],
  ['an ejection time of 0', { ejection: { baseTime: 0 } }],
  ['a negative weight', { splits: { greeter: { by: 'version', weights: { a: 10, b: -1 } } } }],
  ['weights summing to 0', { splits: { greeter: { by: 'version', weights: { a: 0, b: 0 } } } }],
  ['no weights', { splits: { greeter: { by: 'version', weights: {} } } }],
  ['a NaN weight', { splits: { greeter: { by: 'version', weights: { a: Number.NaN } } } }],
  ['an unknown strategy', { strategy: 'fastest' as RouterOptions['strategy'] }],
  ['an EWMA weight of 0', { ewmaAlpha: 0 }],
  ['a fleet interval of 0', { fleet: { broker: undefined as never, interval: 0 } }],
];

describe('router options', () => {
  for (const [what, options] of bad) {
    it(`rejects ${what} with invalid_argument in the factory`, () => {
      let error: unknown;
      try {
        routerSelector({ registry, ...options });
      } catch (e) {
        error = e;
      }
      expect(isMicroError(error, 'invalid_argument')).toBe(true);
    });
  }

  it('names the bad value in the message', () => {
    expect(() => routerSelector({ registry, breaker: { coolDown: -10 } })).toThrow(/coolDown.*-10/);
    expect(() =>
      routerSelector({ registry, splits: { greeter: { by: 'version', weights: { canary: -1 } } } }),
    ).toThrow(/weights\.canary.*-1/);
  });
});
