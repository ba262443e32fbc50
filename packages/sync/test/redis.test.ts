import { requireServer, testServers } from '@micro-os/core/testing';
import { redisLocks } from '@micro-os/sync/redis';
import { electionSuite, locksSuite } from '@micro-os/sync/testing';
import { beforeAll } from 'vitest';

beforeAll(() => requireServer('redis'));
const prefix = `test:sync:${process.pid}:${Date.now()}:`;
locksSuite('redis', { create: () => redisLocks({ url: testServers.redis, prefix }) });
electionSuite('redis', { create: () => redisLocks({ url: testServers.redis, prefix }) });
