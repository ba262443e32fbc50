import { type ChildProcess, spawn } from 'node:child_process';
import { createConfig, type Value } from '@micro-os/config';
import { redisSource } from '@micro-os/config/redis';
import { isMicroError } from '@micro-os/core';
import { randomPort, waitForPort } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A throwaway redis-server on a random loopback port where CONFIG is disabled, as on many managed services.
const port = randomPort();
const url = `redis://127.0.0.1:${port}`;
let server: ChildProcess;
let writer: Redis;

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await pause(5);
  }
  return true;
}

beforeAll(async () => {
  server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--rename-command',
      'CONFIG',
      '',
    ],
    { stdio: 'ignore' },
  );
  await waitForPort(port, 5000);
  writer = new Redis(url);
  writer.on('error', () => {});
});
afterAll(async () => {
  writer?.disconnect();
  server?.kill('SIGKILL');
});

describe('redis source where CONFIG is refused', () => {
  it("'auto' falls back to pub/sub plus polling: write() is seen at once, a plain SET by polling", async () => {
    await writer.set('cfg', JSON.stringify({ n: 0 }));
    const source = redisSource({ url, key: 'cfg', pollInterval: 200 });
    const config = createConfig({ sources: [source] });
    await config.load();
    const seen: unknown[] = [];
    void (async () => {
      for await (const value of config.watch('n') as AsyncIterable<Value>) seen.push(value.raw());
    })();
    await pause(300);
    expect(source.watchMode).toBe('pubsub');
    const started = Date.now();
    await source.write({ n: 1 });
    expect(await until(() => seen.at(-1) === 1, 1000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(150);
    await writer.set('cfg', JSON.stringify({ n: 2 }));
    expect(await until(() => seen.at(-1) === 2, 1000)).toBe(true);
    expect(seen).toEqual([1, 2]);
    await config.close();
  });

  it("'keyspace' fails the watch with permission_denied, reported through onError", async () => {
    const errors: unknown[] = [];
    const config = createConfig({
      sources: [redisSource({ url, key: 'cfg', watch: 'keyspace' })],
      onError: (e) => errors.push(e),
    });
    await config.load();
    expect(await until(() => errors.length > 0, 2000)).toBe(true);
    expect(isMicroError(errors[0], 'permission_denied'), String(errors[0])).toBe(true);
    await config.close();
  });
});
