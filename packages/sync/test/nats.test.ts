import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { natsLocks } from '@micro-os/sync/nats';
import { electionSuite, locksSuite } from '@micro-os/sync/testing';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';

const bucket = `sync_test_${randomUUID().slice(0, 8)}`;
beforeAll(() => requireServer('nats'));
afterAll(async () => {
  const nc = await connect({ servers: testServers.nats });
  const kv = await new Kvm(nc).open(bucket);
  await kv.destroy();
  await nc.close();
});
locksSuite('nats', { create: () => natsLocks({ servers: testServers.nats, bucket }) });
electionSuite('nats', { create: () => natsLocks({ servers: testServers.nats, bucket }) });
