import { randomUUID } from 'node:crypto';
import type { Events } from '@micro-os/event';
import { natsEvents } from '@micro-os/event/nats';
import { redisEvents } from '@micro-os/event/redis';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { compare } from './harness.js';

/**
 * @micro-os/event acked publish of a ~150-byte record beside the raw driver in the same process, back to back:
 * JetStream `js.publish` with the same `msgID` dedupe header into the same stream (on a default connection, and
 * on one with `noAsyncTraces` as our owned connection has), and a plain `XADD` of the same bytes (ours also sets
 * the id's dedupe key in the same script, and sends the publishes of one tick in one script call). Then
 * end-to-end latency (publish to handler) through a consumer group at a steady 1,000 records/s.
 */
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const data = { order: 42, customer: 'c-1234', items: ['a', 'b', 'c'], total: 99.5 };

async function latency(name: string, events: Events, count = 2000): Promise<void> {
  const type = `bench.latency${randomUUID().slice(0, 8)}`;
  const samples: number[] = [];
  const done = new Promise<void>((resolve) => {
    void events.subscribe<{ sent: number }>(
      type,
      (record) => {
        samples.push((performance.now() - record.data.sent) * 1000);
        if (samples.length === count) resolve();
      },
      { group: `bench-${randomUUID().slice(0, 8)}` },
    );
  });
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < count; i++) {
    void events.publish({ type, data: { sent: performance.now() } });
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
  }
  await done;
  samples.sort((a, b) => a - b);
  const at = (q: number): string => (samples[Math.floor(samples.length * q)] ?? 0).toFixed(0);
  console.log(
    `event ${name} end-to-end (publish -> handler), 1,000/s: p50 ${at(0.5)} µs  p99 ${at(0.99)} µs`,
  );
}

async function benchJetStream(): Promise<void> {
  const namespace = `bench_${randomUUID().slice(0, 8)}`;
  const events = natsEvents({ url: natsUrl, namespace });
  await events.publish({ type: 'bench.warm', data });
  const nc = await connect({ servers: natsUrl });
  const js = jetstream(nc);
  const body = JSON.stringify({
    id: randomUUID(),
    type: 'bench.created',
    source: 'bench',
    time: new Date().toISOString(),
    metadata: {},
    data,
  });
  const ours = () => events.publish({ type: 'bench.created', data });
  const raw = () => js.publish(`evt.${namespace}.e.bench.created`, body, { msgID: randomUUID() });
  await compare('event JetStream acked publish vs raw js.publish, sequential', ours, raw, {
    count: 2000,
    concurrency: 1,
    target: 0.9,
  });
  await compare('event JetStream acked publish vs raw js.publish, 64 in flight', ours, raw, {
    count: 10000,
    concurrency: 64,
    target: 0.9,
  });
  // Our owned connection skips the call-site stack nats.js captures per request; the same option on the raw side.
  const quiet = await connect({ servers: natsUrl, noAsyncTraces: true });
  const jsQuiet = jetstream(quiet);
  const rawQuiet = () => jsQuiet.publish(`evt.${namespace}.e.bench.created`, body, { msgID: randomUUID() });
  await compare(
    'event JetStream acked publish vs raw js.publish on a noAsyncTraces connection, 64 in flight',
    ours,
    rawQuiet,
    { count: 10000, concurrency: 64, target: 0.9 },
  );
  await quiet.close();
  await latency('JetStream', events);
  await events.close();
  await (await jetstreamManager(nc)).streams.delete(namespace);
  await nc.close();
}

async function benchRedis(): Promise<void> {
  const namespace = `bench_${randomUUID().slice(0, 8)}`;
  const client = new Redis(redisUrl);
  const events = redisEvents({ client, namespace });
  const body = JSON.stringify({
    id: randomUUID(),
    type: 'bench.created',
    source: 'bench',
    time: new Date().toISOString(),
    metadata: {},
    data,
  });
  const rawKey = `bench:raw:{${namespace}}`;
  const ours = () => events.publish({ type: 'bench.created', data });
  const raw = () => client.xadd(rawKey, '*', 't', 'bench.created', 'r', body);
  await compare('event Redis Streams acked publish vs raw XADD, sequential', ours, raw, {
    count: 5000,
    concurrency: 1,
    target: 0.9,
  });
  await compare('event Redis Streams acked publish vs raw XADD, 64 in flight', ours, raw, {
    count: 20000,
    concurrency: 64,
    target: 0.9,
  });
  // The cheapest correct dedupe in one round trip: the same server work as ours for one record (SET NX PX of
  // the id, then XADD, in one script). Sequentially this is the floor under ours; what is left is the layer.
  const script = `if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return false end
return redis.call('XADD', KEYS[1], '*', 't', ARGV[3], 'r', ARGV[1])`;
  const sha = (await client.script('LOAD', script)) as string;
  const dedupedXadd = () =>
    client.evalsha(
      sha,
      2,
      rawKey,
      `bench:raw:{${namespace}}:id:${randomUUID()}`,
      body,
      '120000',
      'bench.created',
    );
  await compare('event Redis Streams raw SET NX + XADD script vs raw XADD, sequential', dedupedXadd, raw, {
    count: 5000,
    concurrency: 1,
    target: 0.9,
  });
  await compare(
    'event Redis Streams acked publish vs raw SET NX + XADD script, sequential',
    ours,
    dedupedXadd,
    { count: 5000, concurrency: 1, target: 0.9 },
  );
  await compare(
    'event Redis Streams acked publish vs raw SET NX + XADD script, 64 in flight',
    ours,
    dedupedXadd,
    { count: 20000, concurrency: 64, target: 0.9 },
  );
  await latency('Redis Streams', events);
  await events.close();
  const keys = [
    ...(await client.keys(`*{${namespace}}*`)),
    ...(await client.keys(`bench:raw:{${namespace}}*`)),
  ];
  for (let i = 0; i < keys.length; i += 1000) await client.del(...keys.slice(i, i + 1000));
  client.disconnect();
}

export async function benchEvent(): Promise<void> {
  await benchJetStream();
  await benchRedis();
}

if (import.meta.url === `file://${process.argv[1]}`) await benchEvent();
