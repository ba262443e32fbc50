import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { afterAll, describe, expect, it } from 'vitest';
import { election } from './election.js';
import type { Locks } from './types.js';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const reasonOf = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => 'resolved',
    (err: unknown) => err,
  );

export interface ElectionSuiteOptions {
  /** As for `locksSuite`: each call stands for a separate process on the same lock state. */
  create: () => Promise<Locks> | Locks;
}

/** The behaviour of `election()` on a backend. */
export function electionSuite(name: string, options: ElectionSuiteOptions): void {
  describe(`Election conformance: ${name}`, () => {
    const made: Locks[] = [];
    const make = async (): Promise<Locks> => {
      const locks = await options.create();
      made.push(locks);
      return locks;
    };
    afterAll(async () => {
      await Promise.all(made.map((l) => l.close()));
    });

    it('elects one leader at a time; after it resigns the next wins with a higher term', async () => {
      const [a, b] = [election(await make()), election(await make())];
      const key = unique('leader');
      const first = await a.campaign(key, { ttl: 1000, metadata: { id: 'a' } });
      expect(await b.leader(key)).toEqual({ name: key, term: first.term, metadata: { id: 'a' } });
      let secondElected = false;
      const second = b.campaign(key, { ttl: 1000, metadata: { id: 'b' } }).then((elected) => {
        secondElected = true;
        return elected;
      });
      await delay(1500);
      expect(secondElected).toBe(false);
      expect(first.revoked.aborted).toBe(false);
      await first.resign();
      expect(first.revoked.aborted).toBe(true);
      const next = await second;
      expect(next.term).toBeGreaterThan(first.term);
      expect((await a.leader(key))?.metadata).toEqual({ id: 'b' });
      await next.resign();
      expect(await a.leader(key)).toBeUndefined();
    });

    it('observe reports the leader and each change', async () => {
      const [a, b] = [election(await make()), election(await make())];
      const key = unique('observe');
      const controller = new AbortController();
      const seen: (number | undefined)[] = [];
      const watching = (async () => {
        for await (const leader of b.observe(key, { signal: controller.signal })) seen.push(leader?.term);
      })();
      while (seen.length === 0) await delay(10);
      const first = await a.campaign(key, { ttl: 1000 });
      await delay(400);
      await first.resign();
      await delay(400);
      controller.abort();
      await watching;
      expect(seen).toEqual([undefined, first.term, undefined]);
    });

    it('aborting the campaign signal stops waiting with aborted, and resigns once elected', async () => {
      const [a, b] = [election(await make()), election(await make())];
      const key = unique('cancel');
      const first = await a.campaign(key, { ttl: 1000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const err = await reasonOf(b.campaign(key, { signal: controller.signal }));
      expect(isMicroError(err, 'aborted')).toBe(true);
      await first.resign();
      const leaving = new AbortController();
      const elected = await b.campaign(key, { ttl: 1000, signal: leaving.signal });
      leaving.abort();
      await delay(300);
      expect(elected.revoked.aborted).toBe(true);
      expect(await a.leader(key)).toBeUndefined();
    });
  });
}
