import { createConfig, type Source } from '@micro-os/config';
import { natsSource } from '@micro-os/config/nats';
import { postgresSource } from '@micro-os/config/postgres';
import { redisSource } from '@micro-os/config/redis';
import { isMicroError } from '@micro-os/core';
import { describe, expect, it } from 'vitest';

// A loopback port nothing listens on: connections are refused at once.
const deadPort = 1;

describe('a source whose server is down', () => {
  const cases: [string, () => Source][] = [
    ['redis', () => redisSource({ url: `redis://127.0.0.1:${deadPort}`, key: 'k' })],
    ['postgres', () => postgresSource({ url: `postgres://postgres@127.0.0.1:${deadPort}/test`, name: 'n' })],
    ['nats', () => natsSource({ servers: `nats://127.0.0.1:${deadPort}`, bucket: 'b', key: 'k' })],
  ];
  for (const [name, create] of cases) {
    it(`${name}: load fails fast with unavailable, the driver error as cause, and the process stays up`, async () => {
      const config = createConfig({ sources: [create()] });
      const started = Date.now();
      const err = await config.load().catch((e: unknown) => e);
      expect(isMicroError(err, 'unavailable'), String(err)).toBe(true);
      expect((err as Error).cause).toBeDefined();
      expect(Date.now() - started).toBeLessThan(3000);
      await config.close();
    });
  }
});

describe('load bounds', () => {
  it('load with a timeout answers deadline_exceeded when a source hangs', async () => {
    const hanging: Source = { name: 'hanging', read: () => new Promise(() => {}), close: async () => {} };
    const config = createConfig({ sources: [hanging] });
    const err = await config.load({ timeout: 50 }).catch((e: unknown) => e);
    expect(isMicroError(err, 'deadline_exceeded')).toBe(true);
    await config.close();
  });
});
