import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfig, envSource, memorySource, type Source, type Value } from '@micro-os/config';
import { fileSource } from '@micro-os/config/file';
import { natsSource } from '@micro-os/config/nats';
import { postgresSource } from '@micro-os/config/postgres';
import { redisSource } from '@micro-os/config/redis';
import { isMicroError, type MicroError } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await pause(5);
  }
}
function collect(watch: AsyncIterable<Value>): unknown[] {
  const seen: unknown[] = [];
  void (async () => {
    for await (const value of watch) seen.push(value.raw());
  })();
  return seen;
}

describe('createConfig', () => {
  it('a read before load is failed_precondition telling to await load()', () => {
    const config = createConfig({ sources: [memorySource({ a: 1 })] });
    let err: unknown;
    try {
      config.get('a');
    } catch (e) {
      err = e;
    }
    expect(isMicroError(err, 'failed_precondition')).toBe(true);
    expect((err as Error).message).toContain('load()');
  });

  it('merges in order: later sources win, objects merge deeply, arrays are replaced', async () => {
    const config = createConfig({
      sources: [
        memorySource({ db: { host: 'a', port: 1, opts: { ssl: false, pool: 5 } }, hosts: ['x', 'y'] }),
        memorySource({ db: { host: 'b', opts: { ssl: true } }, hosts: ['z'] }),
      ],
    });
    await config.load();
    expect(config.get('').raw()).toEqual({
      db: { host: 'b', port: 1, opts: { ssl: true, pool: 5 } },
      hosts: ['z'],
    });
    await config.close();
  });

  it('a failing source makes load fail with its error, and load can be tried again', async () => {
    let fail = true;
    const flaky: Source = {
      name: 'flaky',
      read: async () => {
        if (fail) throw new Error('boom');
        return { ok: true };
      },
      close: async () => {},
    };
    const config = createConfig({ sources: [flaky] });
    const err = await config.load().catch((e: unknown) => e);
    expect(isMicroError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toContain('flaky');
    fail = false;
    await config.load();
    expect(config.get('ok').boolean()).toBe(true);
  });

  it('watch fires only when the merged value at its path changes, parents included', async () => {
    const base = memorySource({ db: { port: 1, host: 'a' }, other: 1 });
    const top = memorySource({});
    const config = createConfig({ sources: [base, top] });
    await config.load();
    const port = collect(config.watch('db.port'));
    const db = collect(config.watch('db'));
    const other = collect(config.watch('other'));
    base.set('db.port', 1);
    top.set('db.port', 1);
    base.set('db.host', 'b');
    base.set('db.port', 2);
    top.set('db.port', 3);
    base.set('db.port', 4);
    await until(() => db.length === 2);
    await pause(50);
    expect(port).toEqual([3]);
    expect(db).toEqual([
      { port: 1, host: 'b' },
      { port: 3, host: 'b' },
    ]);
    expect(other).toEqual([]);
    await config.close();
  });

  it('a watch started before load loads the config lazily and reports changes after it', async () => {
    const source = memorySource({ level: 'info' });
    const config = createConfig({ sources: [source] });
    const seen = collect(config.watch('level'));
    await until(() => {
      try {
        return config.get('level').exists();
      } catch {
        return false;
      }
    });
    source.set('level', 'debug');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['debug']);
    await config.close();
  });

  it('a watcher whose callback throws does not stop other watchers, and the error is reported', async () => {
    const source = memorySource({ n: 0 });
    const errors: MicroError[] = [];
    const config = createConfig({ sources: [source], onError: (e) => errors.push(e) });
    await config.load();
    const seen: unknown[] = [];
    const loopSeen: unknown[] = [];
    config.onChange('n', () => {
      throw new Error('listener bug');
    });
    config.onChange('n', async () => {
      throw new Error('async listener bug');
    });
    config.onChange('n', (value) => seen.push(value.raw()));
    const failing = (async () => {
      for await (const _ of config.watch('n')) throw new Error('loop bug');
    })().catch(() => 'ended');
    void (async () => {
      for await (const value of config.watch('n')) loopSeen.push(value.raw());
    })();
    source.set('n', 1);
    source.set('n', 2);
    await until(() => seen.length === 2 && loopSeen.length === 2);
    expect(seen).toEqual([1, 2]);
    expect(loopSeen).toEqual([1, 2]);
    expect(await failing).toBe('ended');
    await until(() => errors.length === 4);
    expect(errors.map((e) => e.message).join('\n')).toContain('listener bug');
    expect(errors.map((e) => e.message).join('\n')).toContain('async listener bug');
    await config.close();
  });

  it('a hot reload that fails the schema keeps the last good value and reports the error', async () => {
    const source = memorySource({ db: { port: 5432 } });
    const errors: MicroError[] = [];
    const schema = z.object({ db: z.object({ port: z.number().int().positive() }) });
    const config = createConfig({ sources: [source], schema, onError: (e) => errors.push(e) });
    await config.load();
    const seen = collect(config.watch('db.port'));
    source.set('db.port', -1);
    await until(() => errors.length === 1);
    expect(isMicroError(errors[0], 'invalid_argument')).toBe(true);
    expect(errors[0]?.message).toContain('db.port');
    expect(errors[0]?.message).toContain('keeping the last good config');
    expect(config.get('db.port').number()).toBe(5432);
    source.set('db.port', 6432);
    await until(() => seen.length === 1);
    expect(seen).toEqual([6432]);
    await config.close();
  });

  it('an initial load that fails the schema rejects with invalid_argument', async () => {
    const config = createConfig({
      sources: [memorySource({ port: 'x' })],
      schema: z.object({ port: z.number() }),
    });
    const err = await config.load().catch((e: unknown) => e);
    expect(isMicroError(err, 'invalid_argument')).toBe(true);
    expect((err as Error).message).toContain('port');
  });

  it('a source that fails to re-read keeps its last value and the failure is reported', async () => {
    let calls = 0;
    const events = memorySource({});
    const source: Source = {
      name: 'sometimes',
      read: async () => {
        calls += 1;
        if (calls === 2) throw new Error('store down');
        return { v: calls };
      },
      watch: async function* (signal) {
        for await (const _ of events.watch?.(signal) ?? []) yield undefined;
      },
      close: async () => events.close(),
    };
    const errors: MicroError[] = [];
    const config = createConfig({ sources: [source], onError: (e) => errors.push(e) });
    await config.load();
    await pause(10);
    events.set('x', 1);
    await until(() => errors.length === 1);
    expect(errors[0]?.message).toContain('store down');
    expect(config.get('v').number()).toBe(1);
    await config.close();
  });

  it('close is idempotent, ends watches, closes sources and works with await using', async () => {
    let closed = 0;
    const source = memorySource({ a: 1 });
    const counted: Source = {
      ...source,
      name: 'counted',
      close: async () => {
        closed += 1;
      },
    };
    let ended = false;
    {
      await using config = createConfig({ sources: [counted] });
      await config.load();
      void (async () => {
        for await (const _ of config.watch('a'));
        ended = true;
      })();
      await config.close();
    }
    await until(() => ended);
    expect(closed).toBe(1);
  });
});

describe('envSource', () => {
  it('maps PREFIX_A__B to a.b, lower-cased, values as strings, other variables ignored', async () => {
    const env = { MYAPP_DB__PORT: '5432', MYAPP_DB__MAX_CONNS: '10', MYAPP_LEVEL: 'debug', OTHER: 'x' };
    const config = createConfig({ sources: [envSource({ prefix: 'MYAPP', env })] });
    await config.load();
    expect(config.get('').raw()).toEqual({ db: { port: '5432', max_conns: '10' }, level: 'debug' });
    expect(config.get('db.port').number()).toBe(5432);
  });

  it('a custom separator nests, and a nested name wins over a plain one', async () => {
    const env = { APP_A: 'plain', APP_A_B: 'nested', APP_C: '1' };
    const source = envSource({ prefix: 'APP_', separator: '_', env });
    expect(await source.read()).toEqual({ a: { b: 'nested' }, c: '1' });
  });

  it('reads process.env by default and overrides a memory source placed before it', async () => {
    const name = `MICROTEST${randomUUID().slice(0, 6).toUpperCase()}`;
    process.env[`${name}_DB__HOST`] = 'from-env';
    try {
      const config = createConfig({
        sources: [memorySource({ db: { host: 'default', port: 1 } }), envSource({ prefix: name })],
      });
      await config.load();
      expect(config.get('db').map()).toEqual({ host: 'from-env', port: 1 });
    } finally {
      delete process.env[`${name}_DB__HOST`];
    }
  });
});

describe('fileSource', () => {
  it('a missing file is not_found, or {} when optional', async () => {
    const path = join(tmpdir(), `missing-${randomUUID()}.json`);
    const err = await fileSource(path)
      .read()
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'not_found')).toBe(true);
    expect((err as Error).message).toContain(path);
    expect(await fileSource(path, { optional: true }).read()).toEqual({});
  });

  it('a file that is not a JSON object is invalid_argument naming the file', async () => {
    const path = join(tmpdir(), `bad-${randomUUID()}.json`);
    await writeFile(path, '[1, 2');
    const err = await fileSource(path)
      .read()
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'invalid_argument')).toBe(true);
    expect((err as Error).message).toContain(path);
    await writeFile(path, '[1]');
    expect(
      isMicroError(
        await fileSource(path)
          .read()
          .catch((e: unknown) => e),
        'invalid_argument',
      ),
    ).toBe(true);
    await rm(path);
  });

  it('follows a file replaced by rename, as editors and config management tools do', async () => {
    const dir = join(tmpdir(), `cfg-${randomUUID()}`);
    await mkdir(dir);
    const path = join(dir, 'app.json');
    await writeFile(path, JSON.stringify({ level: 'info' }));
    const config = createConfig({ sources: [fileSource(path)] });
    await config.load();
    const seen = collect(config.watch('level'));
    await pause(50);
    await writeFile(join(dir, 'app.json.tmp'), JSON.stringify({ level: 'debug' }));
    await rename(join(dir, 'app.json.tmp'), path);
    await until(() => seen.length === 1);
    await writeFile(path, JSON.stringify({ level: 'warn' }));
    await until(() => seen.length === 2);
    expect(seen).toEqual(['debug', 'warn']);
    await config.close();
    await rm(dir, { recursive: true });
  });
});

describe('invalid options fail in the factory with invalid_argument', () => {
  const cases: [string, () => unknown][] = [
    ['createConfig without sources', () => createConfig({} as never)],
    ['createConfig with a non-source', () => createConfig({ sources: [{} as Source] })],
    ['createConfig with a bad secret path', () => createConfig({ sources: [], secrets: ['a..b'] })],
    ['envSource with an empty separator', () => envSource({ separator: '' })],
    ['fileSource with an empty path', () => fileSource('')],
    ['fileSource with a negative debounce', () => fileSource('x.json', { debounce: -1 })],
    ['redisSource without a key', () => redisSource({ url: 'redis://127.0.0.1', key: '' })],
    ['redisSource with both client and url', () => redisSource({ key: 'k' })],
    [
      'redisSource with an unknown watch mode',
      () => redisSource({ url: 'redis://x', key: 'k', watch: 'x' as never }),
    ],
    [
      'postgresSource with a bad table',
      () => postgresSource({ url: 'postgres://x', table: 'a; drop', name: 'n' }),
    ],
    ['postgresSource without a name', () => postgresSource({ url: 'postgres://x', name: '' })],
    ['natsSource with a bad bucket', () => natsSource({ bucket: 'a.b', key: 'k' })],
    ['natsSource with a bad key', () => natsSource({ bucket: 'b', key: 'a b' })],
  ];
  for (const [what, make] of cases) {
    it(what, () => {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(isMicroError(err, 'invalid_argument')).toBe(true);
    });
  }
});
