import { memoryBroker } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { brokerEvents } from '../src/broker-events.js';

describe('brokerEvents (at most once)', () => {
  it('refuses an at-least-once subscription with failed_precondition', async () => {
    const events = brokerEvents(memoryBroker());
    await expect(events.subscribe('order.created', () => undefined)).rejects.toMatchObject({
      code: 'failed_precondition',
    });
    await expect(
      events.subscribe('order.created', () => undefined, { group: 'billing', delivery: 'at-least-once' }),
    ).rejects.toMatchObject({ code: 'failed_precondition' });
    await events.close();
  });

  it('delivers at most once when asked to, and has no replay or dead letters', async () => {
    const events = brokerEvents(memoryBroker());
    const got: unknown[] = [];
    const sub = await events.subscribe('order.created', (r) => void got.push(r.data), {
      delivery: 'at-most-once',
    });
    await events.publish({ type: 'order.created', data: 7 });
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([7]);
    expect(() => events.replay('order.created')).toThrow(expect.objectContaining({ code: 'unimplemented' }));
    expect(() => events.deadLetters()).toThrow(expect.objectContaining({ code: 'unimplemented' }));
    await sub.close();
    await events.close();
  });

  it('rejects bad input with invalid_argument before touching the broker', async () => {
    const events = brokerEvents(memoryBroker());
    await expect(events.publish({ type: 'a b', data: 1 })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(
      events.subscribe('x', () => undefined, { delivery: 'at-most-once', maxAttempts: 0 }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    await events.close();
  });
});
