import { randomUUID } from 'node:crypto';
import { memoryRegistry, type Registry, type Service } from '@micro-os/core';
import { cachedRegistry } from '@micro-os/discovery';
import { natsRegistry } from '@micro-os/discovery/nats';
import { postgresRegistry } from '@micro-os/discovery/postgres';
import { redisRegistry } from '@micro-os/discovery/redis';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * @micro-os/discovery: the cost of a cached lookup (target <= 1 µs) beside the uncached memory registry, and the
 * time from `deregister()` being called to three watchers on other connections all knowing (target <= 100 ms),
 * median and worst of 50 on each backend.
 */
const service = (name: string, id: string): Service => ({
  name,
  version: '1.0.0',
  metadata: { team: 'bench' },
  endpoints: [{ name: 'Greeter.Hello', metadata: {} }],
  nodes: [{ id, address: '127.0.0.1:4100', metadata: { zone: 'a' } }],
});

async function lookupCost(): Promise<void> {
  const backend = memoryRegistry();
  const cached = cachedRegistry(backend);
  await cached.register(service('greeter', 'n1'));
  await cached.getService('greeter');
  await new Promise((r) => setTimeout(r, 50));
  const time = async (registry: Registry, n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await registry.getService('greeter');
    return ((performance.now() - t0) * 1000) / n;
  };
  await time(cached, 100_000);
  await time(backend, 100_000);
  const ours = await time(cached, 1_000_000);
  const base = await time(backend, 1_000_000);
  console.log(
    `discovery cached lookup: ${(ours * 1000).toFixed(0)} ns/op (target <= 1000 ns: ${ours <= 1 ? 'meets' : 'BELOW'}); uncached memory registry ${(base * 1000).toFixed(0)} ns/op`,
  );
  await cached.close();
}

async function deregistrationSeen(name: string, create: () => Registry): Promise<void> {
  const writer = create();
  const watchers = [create(), create(), create()];
  const svc = `bench-${randomUUID().slice(0, 8)}`;
  const controller = new AbortController();
  // Deletes seen so far in this round; the round ends when every watcher has seen one.
  let seen = 0;
  let everyone: ((at: number) => void) | undefined;
  for (const watcher of watchers) {
    void (async () => {
      for await (const event of watcher.watch({ service: svc, signal: controller.signal })) {
        if (event.type === 'delete' && ++seen === watchers.length) everyone?.(performance.now());
      }
    })();
  }
  await new Promise((r) => setTimeout(r, 500));
  const samples: number[] = [];
  for (let i = 0; i < 50; i++) {
    await writer.register(service(svc, `n${i}`));
    await new Promise((r) => setTimeout(r, 10));
    seen = 0;
    const known = new Promise<number>((resolve) => (everyone = resolve));
    const t0 = performance.now();
    await writer.deregister(service(svc, `n${i}`));
    samples.push((await known) - t0);
  }
  samples.sort((a, b) => a - b);
  const p50 = samples[25] ?? 0;
  const max = samples[samples.length - 1] ?? 0;
  console.log(
    `discovery ${name} deregistration -> all ${watchers.length} watchers: p50 ${p50.toFixed(2)} ms, max ${max.toFixed(2)} ms (target <= 100 ms: ${max <= 100 ? 'meets' : 'BELOW'})`,
  );
  controller.abort();
  await writer.close();
  for (const watcher of watchers) await watcher.close();
}

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function benchDiscovery(): Promise<void> {
  await lookupCost();
  const id = randomUUID().slice(0, 8);
  await deregistrationSeen('redis', () => redisRegistry({ url: redisUrl, prefix: `bench:${id}` }));
  await deregistrationSeen('nats', () => natsRegistry({ url: natsUrl, bucket: `bench_${id}` }));
  await deregistrationSeen('postgres', () => postgresRegistry({ url: postgresUrl, table: `bench_${id}` }));
  // Clean up what the runs left behind.
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`bench:${id}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  const nc = await connect({ servers: natsUrl });
  await (await new Kvm(nc).open(`bench_${id}`)).destroy();
  await nc.close();
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS bench_${id}`);
  await client.end();
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDiscovery();
