import { whenSettled } from '@micro-os/core';
import { describe, expect, it } from 'vitest';

describe('whenSettled', () => {
  it('passes the arguments, reports success, then resolves with the value', async () => {
    const seen: unknown[] = [];
    const value = await whenSettled(
      async (a: number, b: string) => `${a}${b}`,
      1,
      'x',
      (failed, error) => seen.push(failed, error),
    );
    expect(value).toBe('1x');
    expect(seen).toEqual([false, undefined]);
  });

  it('reports a rejection, then rejects with the same error', async () => {
    const boom = new Error('boom');
    const seen: unknown[] = [];
    const settled = whenSettled(
      async () => {
        throw boom;
      },
      undefined,
      undefined,
      (failed, error) => seen.push(failed, error),
    );
    await expect(settled).rejects.toBe(boom);
    expect(seen).toEqual([true, boom]);
  });

  it('turns a synchronous throw into a reported rejection', async () => {
    const boom = new Error('sync');
    const seen: unknown[] = [];
    const settled = whenSettled(
      (): Promise<never> => {
        throw boom;
      },
      undefined,
      undefined,
      (failed, error) => seen.push(failed, error),
    );
    expect(seen).toEqual([true, boom]);
    await expect(settled).rejects.toBe(boom);
  });
});
