import { describe, expect, it } from 'vitest';
import { createConfig } from './config.js';
import { memorySource } from './memory-source.js';
import type { Source } from './source.js';
import type { ConfigObject } from './tree.js';
import type { Value } from './value.js';

export interface ConfigSourceSuiteOptions<S extends Source> {
  /** A fresh source over a fresh, empty location in its store (a new key, row, file...). */
  create: () => Promise<S> | S;
  /** Writes a whole document into the store behind `source`, as another process would. */
  set: (source: S, doc: ConfigObject) => Promise<void> | void;
  /** Removes what `create` made in the store. Called after each test. @default nothing */
  destroy?: (source: S) => Promise<void> | void;
  /** The source can be watched. @default true */
  watch?: boolean;
  /** How soon a change in the store must reach a watcher, in ms. @default 1000 */
  within?: number;
}

type Next = IteratorResult<Value> | 'timeout';

function nextWithin(iterator: AsyncIterator<Value>, ms: number): Promise<Next> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    iterator.next().then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The behaviour of a config source, written once; every backend's test file calls it. */
export function configSourceSuite<S extends Source>(
  name: string,
  options: ConfigSourceSuiteOptions<S>,
): void {
  const within = options.within ?? 1000;

  async function withSource(run: (source: S) => Promise<void>): Promise<void> {
    const source = await options.create();
    try {
      await run(source);
    } finally {
      await source.close();
      await options.destroy?.(source);
    }
  }

  describe(`Config source conformance: ${name}`, () => {
    it('reads the document the store holds, nested objects and all', async () => {
      await withSource(async (source) => {
        await options.set(source, { db: { host: 'db.local', port: 5432 }, features: ['a', 'b'] });
        const config = createConfig({ sources: [source], watch: false });
        await config.load();
        expect(config.get('db.host').string()).toBe('db.local');
        expect(config.get('db.port').number()).toBe(5432);
        expect(config.get('features').list()).toEqual(['a', 'b']);
        expect(config.get('missing.path').number(7)).toBe(7);
        await config.close();
      });
    });

    it('merges with a memory source: the later source wins, objects merge key by key', async () => {
      await withSource(async (source) => {
        await options.set(source, { db: { host: 'from-store', port: 6000 } });
        const defaults = memorySource({ db: { host: 'from-memory', user: 'app' }, level: 'info' });
        const overrides = memorySource({ db: { port: 7000 } });
        const config = createConfig({ sources: [defaults, source, overrides], watch: false });
        await config.load();
        expect(config.get('db').map()).toEqual({ host: 'from-store', port: 7000, user: 'app' });
        expect(config.get('level').string()).toBe('info');
        await config.close();
      });
    });

    if (options.watch === false) return;

    it(`a watch yields the new value within ${within} ms of the store changing`, async () => {
      await withSource(async (source) => {
        await options.set(source, { db: { port: 1 } });
        const config = createConfig({ sources: [memorySource({ db: { host: 'h' } }), source] });
        await config.load();
        const watch = config.watch('db.port')[Symbol.asyncIterator]();
        await new Promise((r) => setTimeout(r, 100));
        for (const port of [2, 3]) {
          const started = Date.now();
          await options.set(source, { db: { port } });
          const result = await nextWithin(watch, within);
          expect(result, `no event within ${within} ms`).not.toBe('timeout');
          expect(Date.now() - started).toBeLessThanOrEqual(within);
          expect((result as IteratorResult<Value>).value.number()).toBe(port);
          expect(config.get('db.port').number()).toBe(port);
          expect(config.get('db.host').string()).toBe('h');
        }
        await config.close();
      });
    });

    it('a write that leaves the value at the watched path unchanged yields nothing', async () => {
      await withSource(async (source) => {
        await options.set(source, { db: { port: 1, host: 'a' } });
        const config = createConfig({ sources: [source] });
        await config.load();
        const seen: unknown[] = [];
        const watch = config.watch('db.port')[Symbol.asyncIterator]();
        await new Promise((r) => setTimeout(r, 100));
        await options.set(source, { db: { port: 1, host: 'a' } });
        await options.set(source, { db: { host: 'b', port: 1 } });
        const early = await nextWithin(watch, within);
        if (early !== 'timeout') seen.push(early.value?.raw());
        expect(seen, 'an unchanged value was reported').toEqual([]);
        expect(config.get('db.host').string()).toBe('b');
        await options.set(source, { db: { host: 'b', port: 2 } });
        const result = await nextWithin(watch, within);
        expect(result).not.toBe('timeout');
        expect((result as IteratorResult<Value>).value.number()).toBe(2);
        await config.close();
      });
    });

    it('closing the config ends its watches', async () => {
      await withSource(async (source) => {
        await options.set(source, { a: 1 });
        const config = createConfig({ sources: [source] });
        await config.load();
        const watch = config.watch('a')[Symbol.asyncIterator]();
        const pending = nextWithin(watch, within);
        await config.close();
        expect(await pending).toEqual({ value: undefined, done: true });
      });
    });

    it("closing the source ends the source's own watch", async () => {
      await withSource(async (source) => {
        await options.set(source, { a: 1 });
        const controller = new AbortController();
        const events = source.watch?.(controller.signal);
        expect(events, 'the source has no watch').toBeDefined();
        const iterator = (events as AsyncIterable<ConfigObject | undefined>)[Symbol.asyncIterator]();
        const ended = iterator.next();
        await new Promise((r) => setTimeout(r, 100));
        await source.close();
        const outcome = await Promise.race([
          ended.then((r) => r.done),
          new Promise((r) => setTimeout(() => r('still open'), within)),
        ]);
        expect(outcome).toBe(true);
        controller.abort();
      });
    });

    it('aborting the signal ends a watch', async () => {
      await withSource(async (source) => {
        await options.set(source, { a: 1 });
        const config = createConfig({ sources: [source] });
        await config.load();
        const controller = new AbortController();
        const watch = config.watch('a', { signal: controller.signal })[Symbol.asyncIterator]();
        const pending = nextWithin(watch, within);
        controller.abort();
        expect(await pending).toEqual({ value: undefined, done: true });
        await config.close();
      });
    });
  });
}
