import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { natsEvents } from '../src/nats.js';
import { eventSuite } from '../src/testing.js';

const namespace = `test_events_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await requireServer('nats');
});
afterAll(async () => {
  const nc = await connect({ servers: testServers.nats });
  await (await jetstreamManager(nc)).streams.delete(namespace).catch(() => undefined);
  await nc.close();
});

eventSuite('nats', {
  create: () => natsEvents({ url: testServers.nats, namespace }),
  invalidFactories: ['a.b', 'a*', 'a>', 'a/b', ''].map((ns) => () => natsEvents({ namespace: ns })),
});
