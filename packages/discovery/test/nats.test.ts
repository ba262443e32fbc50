import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { natsRegistry } from '../src/nats.js';
import { discoverySuite } from '../src/testing.js';

const bucket = `test_registry_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await requireServer('nats');
});
afterAll(async () => {
  const nc = await connect({ servers: testServers.nats });
  await (await new Kvm(nc).open(bucket)).destroy();
  await nc.close();
});

discoverySuite('nats', { create: () => natsRegistry({ url: testServers.nats, bucket }) });
