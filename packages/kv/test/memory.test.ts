import { describe, expect, it } from 'vitest';
import { memoryKV } from '../src/index.js';
import { kvSuite } from '../src/testing.js';

kvSuite('memory', { create: () => memoryKV() });

describe('memoryKV', () => {
  it('evicts the least recently used item past maxEntries', async () => {
    const kv = memoryKV({ maxEntries: 2 });
    await kv.put('a', 1);
    await kv.put('b', 2);
    await kv.get('a');
    await kv.put('c', 3);
    expect(await kv.getMany(['a', 'b', 'c'])).toEqual([1, undefined, 3]);
  });

  it('rejects a bad maxEntries in the factory', () => {
    expect(() => memoryKV({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
