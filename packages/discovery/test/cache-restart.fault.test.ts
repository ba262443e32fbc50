// The cache across a backend restart (~10 s): a throwaway redis-server on a random port is killed while a
// cached registry serves lookups; every lookup during the outage answers with the last known node flagged
// stale, and after the restart the heartbeat re-registers and lookups are fresh again.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedRegistry } from '../src/cached-registry.js';
import { heartbeat } from '../src/heartbeat.js';
import { redisRegistry } from '../src/redis.js';

const port = 20000 + Math.floor(Math.random() * 20000);
let server: ChildProcess | undefined;

function startRedis(): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => {
      if (data.toString().includes('Ready to accept connections')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
}

afterAll(() => {
  server?.kill('SIGKILL');
});

describe('cachedRegistry across a Redis restart', () => {
  it('serves stale-flagged nodes while Redis is down and fresh ones after it is back', async () => {
    server = await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const writer = redisRegistry({ url });
    const cached = cachedRegistry(redisRegistry({ url }), { timeout: 300 });
    const svc = 'greeter';
    const beat = heartbeat(
      writer,
      {
        name: svc,
        version: '1',
        metadata: {},
        endpoints: [],
        nodes: [{ id: 'a', address: '127.0.0.1:4100', metadata: {} }],
      },
      { ttl: 3000, interval: 1000 },
    );
    await beat.ready;
    expect((await cached.getService(svc))[0]?.metadata['registry.stale']).toBeUndefined();

    server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    let staleAnswers = 0;
    const downUntil = Date.now() + 2000;
    while (Date.now() < downUntil) {
      const started = Date.now();
      const [found] = await cached.getService(svc);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(found?.nodes.map((n) => n.id)).toEqual(['a']);
      if (found?.metadata['registry.stale'] === 'true') staleAnswers += 1;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(staleAnswers).toBeGreaterThan(0);
    expect(cached.cacheInfo(svc)?.stale).toBe(true);

    server = await startRedis();
    const end = Date.now() + 8000;
    let fresh = false;
    while (!fresh && Date.now() < end) {
      const [found] = await cached.getService(svc).catch(() => []);
      fresh =
        found !== undefined && found.metadata['registry.stale'] === undefined && found.nodes.length === 1;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fresh).toBe(true);
    expect(cached.cacheInfo(svc)?.stale).toBe(false);
    await beat.close();
    await cached.close();
    await writer.close();
  });
});
