import { type Config, createConfig, memorySource, parseDuration } from '@micro-os/config';
import { isMicroError } from '@micro-os/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const doc = {
  db: { host: 'db.local', port: '5432', portNumber: 6432, bad: 'abc', empty: '', nothing: null },
  flags: { on: 'true', off: 'OFF', yes: 'yes', one: 1, zero: '0', real: true, odd: 'maybe' },
  timeouts: {
    ms: 250,
    text: '250ms',
    secs: '5s',
    mins: '1m',
    hours: '1h',
    sum: '1h30m',
    digits: '1500',
    bad: '5 parsecs',
  },
  lists: { array: ['a', 'b'], csv: 'a, b ,,c', number: 3 },
  maps: { labels: { zone: 'eu' }, notMap: [1] },
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('typed reads', () => {
  let config: Config;
  beforeAll(async () => {
    config = createConfig({ sources: [memorySource(doc)] });
    await config.load();
  });

  it('number converts numeric strings and keeps numbers', () => {
    expect(config.get('db.port').number(1)).toBe(5432);
    expect(config.get('db.portNumber').number()).toBe(6432);
  });

  it('a missing path or null gives the default, or undefined without one', () => {
    expect(config.get('db.missing').number(5432)).toBe(5432);
    expect(config.get('db.nothing').string('x')).toBe('x');
    expect(config.get('nowhere.at.all').number()).toBeUndefined();
    expect(config.get('db.missing').exists()).toBe(false);
    expect(config.get('db.port').exists()).toBe(true);
  });

  it('a value that does not convert is invalid_argument naming the path, not a silent default', () => {
    const err = thrown(() => config.get('db.bad').number(1));
    expect(isMicroError(err, 'invalid_argument')).toBe(true);
    expect((err as Error).message).toContain('"db.bad"');
    expect((err as Error).message).toContain('abc');
    expect(
      isMicroError(
        thrown(() => config.get('db.empty').number(1)),
        'invalid_argument',
      ),
    ).toBe(true);
    expect(
      isMicroError(
        thrown(() => config.get('db').number(1)),
        'invalid_argument',
      ),
    ).toBe(true);
  });

  it('string keeps strings, prints numbers and booleans, refuses objects', () => {
    expect(config.get('db.host').string()).toBe('db.local');
    expect(config.get('db.portNumber').string()).toBe('6432');
    expect(config.get('flags.real').string()).toBe('true');
    expect(
      isMicroError(
        thrown(() => config.get('db').string()),
        'invalid_argument',
      ),
    ).toBe(true);
  });

  it('boolean reads true/false, yes/no, on/off, 1/0 in any case', () => {
    expect(config.get('flags.on').boolean(false)).toBe(true);
    expect(config.get('flags.off').boolean(true)).toBe(false);
    expect(config.get('flags.yes').boolean()).toBe(true);
    expect(config.get('flags.one').boolean()).toBe(true);
    expect(config.get('flags.zero').boolean()).toBe(false);
    expect(config.get('flags.real').boolean()).toBe(true);
    expect(config.get('flags.missing').boolean(true)).toBe(true);
    const err = thrown(() => config.get('flags.odd').boolean());
    expect(isMicroError(err, 'invalid_argument')).toBe(true);
    expect((err as Error).message).toContain('"flags.odd"');
  });

  it("duration reads ms numbers and strings such as '250ms', '5s', '1m', '1h', '1h30m'", () => {
    expect(config.get('timeouts.ms').duration()).toBe(250);
    expect(config.get('timeouts.text').duration()).toBe(250);
    expect(config.get('timeouts.secs').duration()).toBe(5000);
    expect(config.get('timeouts.mins').duration()).toBe(60_000);
    expect(config.get('timeouts.hours').duration()).toBe(3_600_000);
    expect(config.get('timeouts.sum').duration()).toBe(5_400_000);
    expect(config.get('timeouts.digits').duration()).toBe(1500);
    expect(config.get('timeouts.missing').duration('2s')).toBe(2000);
    expect(config.get('timeouts.missing').duration(30)).toBe(30);
    expect(
      isMicroError(
        thrown(() => config.get('timeouts.bad').duration()),
        'invalid_argument',
      ),
    ).toBe(true);
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration('1.5s')).toBe(1500);
  });

  it('list takes arrays as they are and splits comma-separated strings', () => {
    expect(config.get('lists.array').list()).toEqual(['a', 'b']);
    expect(config.get('lists.csv').list()).toEqual(['a', 'b', 'c']);
    expect(config.get('lists.missing').list(['x'])).toEqual(['x']);
    expect(
      isMicroError(
        thrown(() => config.get('lists.number').list()),
        'invalid_argument',
      ),
    ).toBe(true);
  });

  it('map returns objects and refuses anything else', () => {
    expect(config.get('maps.labels').map()).toEqual({ zone: 'eu' });
    expect(config.get('maps.missing').map({ a: 1 })).toEqual({ a: 1 });
    expect(
      isMicroError(
        thrown(() => config.get('maps.notMap').map()),
        'invalid_argument',
      ),
    ).toBe(true);
  });

  it('raw returns the stored value; the empty path is the whole tree', () => {
    expect(config.get('lists.array').raw()).toEqual(['a', 'b']);
    expect(config.get('').raw()).toEqual(doc);
    expect(config.get('lists.array.1').raw()).toBe('b');
  });

  it('a malformed path is invalid_argument', () => {
    expect(
      isMicroError(
        thrown(() => config.get('db..port')),
        'invalid_argument',
      ),
    ).toBe(true);
    expect(
      isMicroError(
        thrown(() => config.get(42 as unknown as string)),
        'invalid_argument',
      ),
    ).toBe(true);
  });
});

describe('schema validation', () => {
  let config: Config;
  beforeAll(async () => {
    config = createConfig({ sources: [memorySource(doc)] });
    await config.load();
  });

  it('scan returns the output of a zod schema', () => {
    const schema = z.object({ host: z.string(), port: z.coerce.number().int() });
    expect(config.get('db').scan(schema)).toEqual({ host: 'db.local', port: 5432 });
  });

  it('a failing schema is invalid_argument naming the path and the reason', () => {
    const schema = z.object({ host: z.string(), bad: z.coerce.number() });
    const err = thrown(() => config.get('db').scan(schema));
    expect(isMicroError(err, 'invalid_argument')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain('db.bad');
    expect(message).toMatch(/number/i);
    expect((err as { details: { issues: { path: string }[] } }).details.issues[0]?.path).toBe('db.bad');
  });

  it('config.scan validates the whole tree', () => {
    const schema = z.object({
      db: z.object({ host: z.string() }),
      lists: z.object({ array: z.array(z.string()) }),
    });
    expect(config.scan(schema).db.host).toBe('db.local');
    const err = thrown(() => config.scan(z.object({ maps: z.object({ notMap: z.string() }) })));
    expect((err as Error).message).toContain('maps.notMap');
  });

  it('works with any Standard Schema v1 implementation, not only zod', () => {
    const even = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: (value: unknown) =>
          typeof value === 'number' && value % 2 === 0
            ? { value }
            : { issues: [{ message: 'must be even' }] },
      },
    };
    expect(config.get('db.portNumber').scan(even)).toBe(6432);
    expect((thrown(() => config.get('flags.one').scan(even)) as Error).message).toBe(
      'config "flags.one" is invalid: flags.one: must be even',
    );
  });

  it('an asynchronous schema needs scanAsync', async () => {
    const schema = z.string().refine(async (v) => v.length > 0);
    expect(
      isMicroError(
        thrown(() => config.get('db.host').scan(schema)),
        'failed_precondition',
      ),
    ).toBe(true);
    await expect(config.get('db.host').scanAsync(schema)).resolves.toBe('db.local');
  });
});
