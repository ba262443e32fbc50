/** Configuration merged from defaults and the environment, and a session store with TTL and versions. */
import { createConfig, envSource, memorySource } from '@micro-os/config';
import { isMicroError, sleep } from '@micro-os/core';
import { memoryKV } from '@micro-os/kv';

export interface Settings {
  greeting: string;
  sessionTtl: number;
  retries: number;
}

/** Defaults in memory, overridden by `DEMO_*` variables (`DEMO_GREETING__PREFIX=Howdy`). */
export async function loadSettings(): Promise<Settings> {
  const defaults = memorySource({ greeting: { prefix: 'Hello' }, session: { ttl: '2s' } });
  const config = createConfig({ sources: [defaults, envSource({ prefix: 'DEMO' })] });
  try {
    await config.load();
    return {
      greeting: config.get('greeting.prefix').string('Hello'),
      sessionTtl: config.get('session.ttl').duration(2000),
      retries: config.get('greeting.retries').number(3),
    };
  } finally {
    await config.close();
  }
}

// A type alias, not an interface: only aliases are assignable to the JSON value type the store accepts.
type Session = { user: string; visits: number };

/** Lines describing a put/get with a TTL, an optimistic update, a stale write and an expiry. */
export async function kvStep(settings: Settings): Promise<string[]> {
  await using kv = memoryKV();
  const sessions = kv.namespace('sessions');
  const first = await sessions.put('ada', { user: 'ada', visits: 1 }, { ttl: settings.sessionTtl });
  const entry = await sessions.getEntry<Session>('ada');
  const visits = (entry?.value.visits ?? 0) + 1;
  const second = await sessions.put(
    'ada',
    { user: 'ada', visits },
    { ttl: settings.sessionTtl, ifVersion: first },
  );
  const stale = await sessions.put('ada', { user: 'ada', visits: 99 }, { ifVersion: first }).then(
    () => undefined,
    (err: unknown) => err,
  );
  await sessions.put('flash', 'gone soon', { ttl: 20 });
  await sleep(30);
  const flash = await sessions.get('flash');
  return [
    `sessions:ada put with ttl ${settings.sessionTtl} ms (version ${first}), get -> ${JSON.stringify(entry?.value)}`,
    `update ifVersion ${first} -> version ${second}; a stale write with ifVersion ${first} -> ${
      isMicroError(stale) ? stale.code : String(stale)
    }; a 20 ms item read 30 ms later -> ${String(flash)}`,
  ];
}
