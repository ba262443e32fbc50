import { describe, expect, it } from 'vitest';
import { atDeadline } from '../src/timer-wheel.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('timer wheel', () => {
  it('calls each deadline once it has passed, at most a slot late, and never a cancelled one', async () => {
    const start = Date.now();
    const fired: [string, number][] = [];
    const at = (name: string, ms: number) =>
      atDeadline(start + ms, () => fired.push([name, Date.now() - start]));
    at('b', 40);
    const cancelA = at('a', 20);
    const cancelC = at('c', 20);
    at('d', 60);
    cancelC();
    cancelC(); // twice is harmless
    await wait(100);
    expect(fired.map(([name]) => name)).toEqual(['a', 'b', 'd']);
    const due: Record<string, number> = { a: 20, b: 40, d: 60 };
    for (const [name, when] of fired) expect(when, name).toBeGreaterThanOrEqual(due[name] ?? 0);
    cancelA(); // after it fired: nothing left to cancel
    expect(fired).toHaveLength(3);
  });

  it('keeps working after every pending deadline was cancelled', async () => {
    const cancels = Array.from({ length: 100 }, (_, i) => atDeadline(Date.now() + 10 + i, () => undefined));
    for (const cancel of cancels) cancel();
    let fired = false;
    atDeadline(Date.now() + 15, () => {
      fired = true;
    });
    await wait(60);
    expect(fired).toBe(true);
  });
});
