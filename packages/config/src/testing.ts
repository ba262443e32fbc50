import type { MicroError } from '@micro-os/core';
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

/** Records what a watch yields, from a loop of its own, so no event can slip past a waiting test. */
class Recorder {
  readonly values: unknown[] = [];
  ended = false;
  failure: unknown;

  constructor(watch: AsyncIterable<Value>) {
    void this.#run(watch);
  }

  async #run(watch: AsyncIterable<Value>): Promise<void> {
    try {
      for await (const value of watch) this.values.push(value.raw());
    } catch (err) {
      this.failure = err;
    }
    this.ended = true;
  }

  /** Waits up to `ms` for `check`; answers whether it came true. */
  async until(check: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The behaviour of a config source, written once; every backend's test file calls it. */
export function configSourceSuite<S extends Source>(
  name: string,
  options: ConfigSourceSuiteOptions<S>,
): void {
  const within = options.within ?? 1000;

  async function withSource(run: (source: S, errors: MicroError[]) => Promise<void>): Promise<void> {
    const source = await options.create();
    const errors: MicroError[] = [];
    try {
      await run(source, errors);
      expect(errors.map((e) => e.message)).toEqual([]);
    } finally {
      await source.close();
      await options.destroy?.(source);
    }
  }

  describe(`Config source conformance: ${name}`, () => {
    it('reads the document the store holds, nested objects and all', async () => {
      await withSource(async (source, errors) => {
        await options.set(source, { db: { host: 'db.local', port: 5432 }, features: ['a', 'b'] });
        const config = createConfig({ sources: [source], watch: false, onError: (e) => errors.push(e) });
        await config.load();
        expect(config.get('db.host').string()).toBe('db.local');
        expect(config.get('db.port').number()).toBe(5432);
        expect(config.get('features').list()).toEqual(['a', 'b']);
        expect(config.get('missing.path').number(7)).toBe(7);
        await config.close();
      });
    });

    it('merges with a memory source: the later source wins, objects merge key by key', async () => {
      await withSource(async (source, errors) => {
        await options.set(source, { db: { host: 'from-store', port: 6000 } });
        const defaults = memorySource({ db: { host: 'from-memory', user: 'app' }, level: 'info' });
        const overrides = memorySource({ db: { port: 7000 } });
        const config = createConfig({
          sources: [defaults, source, overrides],
          watch: false,
          onError: (e) => errors.push(e),
        });
        await config.load();
        expect(config.get('db').map()).toEqual({ host: 'from-store', port: 7000, user: 'app' });
        expect(config.get('level').string()).toBe('info');
        await config.close();
      });
    });

    if (options.watch === false) return;

    it(`a watch yields the new value within ${within} ms of the store changing`, async () => {
      await withSource(async (source, errors) => {
        await options.set(source, { db: { port: 1 } });
        const config = createConfig({
          sources: [memorySource({ db: { host: 'h' } }), source],
          onError: (e) => errors.push(e),
        });
        await config.load();
        const recorder = new Recorder(config.watch('db.port'));
        await pause(100);
        for (const port of [2, 3]) {
          await options.set(source, { db: { port } });
          const started = Date.now();
          const arrived = await recorder.until(() => recorder.values.at(-1) === port, within);
          expect(arrived, `no event within ${within} ms; saw ${JSON.stringify(recorder.values)}`).toBe(true);
          expect(Date.now() - started).toBeLessThanOrEqual(within + 50);
          expect(config.get('db.port').number()).toBe(port);
          expect(config.get('db.host').string()).toBe('h');
        }
        expect(recorder.values).toEqual([2, 3]);
        await config.close();
      });
    });

    it('a write that leaves the value at the watched path unchanged yields nothing', async () => {
      await withSource(async (source, errors) => {
        await options.set(source, { db: { port: 1, host: 'a' } });
        const config = createConfig({ sources: [source], onError: (e) => errors.push(e) });
        await config.load();
        const recorder = new Recorder(config.watch('db.port'));
        await pause(100);
        await options.set(source, { db: { port: 1, host: 'a' } });
        await options.set(source, { db: { host: 'b', port: 1 } });
        // (timing is the previous test's concern; the generous waits here keep a loaded machine from flaking)
        expect(await recorder.until(() => config.get('db.host').string() === 'b', within * 3)).toBe(true);
        await pause(within / 2);
        expect(recorder.values, 'an unchanged value was reported').toEqual([]);
        await options.set(source, { db: { host: 'b', port: 2 } });
        expect(await recorder.until(() => recorder.values.length > 0, within * 3)).toBe(true);
        expect(recorder.values).toEqual([2]);
        await config.close();
      });
    });

    it('closing the config ends its watches', async () => {
      await withSource(async (source, errors) => {
        await options.set(source, { a: 1 });
        const config = createConfig({ sources: [source], onError: (e) => errors.push(e) });
        await config.load();
        const recorder = new Recorder(config.watch('a'));
        await pause(50);
        await config.close();
        expect(await recorder.until(() => recorder.ended, within)).toBe(true);
        expect(recorder.failure).toBeUndefined();
      });
    });

    it("closing the source ends the source's own watch", async () => {
      await withSource(async (source) => {
        await options.set(source, { a: 1 });
        const controller = new AbortController();
        const events = source.watch?.(controller.signal);
        expect(events, 'the source has no watch').toBeDefined();
        let ended = false;
        void (async () => {
          for await (const _ of events as AsyncIterable<ConfigObject | undefined>);
          ended = true;
        })();
        await pause(100);
        await source.close();
        const end = Date.now() + within;
        while (!ended && Date.now() < end) await pause(5);
        expect(ended, `the watch was still open ${within} ms after close`).toBe(true);
        controller.abort();
      });
    });

    it('aborting the signal ends a watch', async () => {
      await withSource(async (source, errors) => {
        await options.set(source, { a: 1 });
        const config = createConfig({ sources: [source], onError: (e) => errors.push(e) });
        await config.load();
        const controller = new AbortController();
        const recorder = new Recorder(config.watch('a', { signal: controller.signal }));
        await pause(50);
        controller.abort();
        expect(await recorder.until(() => recorder.ended, within)).toBe(true);
        await config.close();
      });
    });
  });
}
