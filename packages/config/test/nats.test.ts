import { randomUUID } from 'node:crypto';
import { natsSource } from '@micro-os/config/nats';
import { configSourceSuite } from '@micro-os/config/testing';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';

const bucket = `micro-config-test-${randomUUID().slice(0, 8)}`;
let nc: NatsConnection;

beforeAll(async () => {
  await requireServer('nats');
  nc = await connect({ servers: testServers.nats });
});
afterAll(async () => {
  if (nc === undefined) return;
  await new Kvm(nc)
    .open(bucket)
    .then((kv) => kv.destroy())
    .catch(() => {});
  await nc.close();
});

const writer = async (key: string, doc: object): Promise<void> => {
  const kv = await new Kvm(nc).create(bucket);
  await kv.put(key, JSON.stringify(doc));
};

configSourceSuite('nats (servers)', {
  create: () => natsSource({ servers: testServers.nats, bucket, key: `app.${randomUUID()}` }),
  set: (source, doc) => writer(source.key, doc),
});
configSourceSuite('nats (connection)', {
  create: () => natsSource({ connection: nc, bucket, key: `app.${randomUUID()}` }),
  set: (source, doc) => writer(source.key, doc),
});
