import { type ChildProcess, spawn } from 'node:child_process';
import { createService, isMicroError, type MicroService, memoryRegistry } from '@micro-os/core';
import { natsBroker, natsTransport } from '@micro-os/core/nats';
import { accepting, randomPort } from '@micro-os/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * A nats-server of our own on a random loopback port, killed and restarted under a running service (the
 * shared server on 4222 is never touched).
 */
const port = randomPort();
const url = `nats://127.0.0.1:${port}`;
let nats: ChildProcess | undefined;

async function startNats(): Promise<void> {
  nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await expect.poll(() => accepting(port), { timeout: 10_000, interval: 50 }).toBe(true);
}

async function killNats(): Promise<void> {
  const proc = nats;
  if (proc === undefined || proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

describe('NATS server restart under a running service', () => {
  const services: MicroService[] = [];
  const unhandled: unknown[] = [];
  const record = (error: unknown): void => void unhandled.push(error);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);

  afterAll(async () => {
    for (const svc of services) {
      await svc.stop();
      await svc.transport.close();
      await svc.broker.close();
    }
    await killNats();
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  });

  it('fails calls with a typed error while down, recovers after restart, and delivers each message once', async () => {
    await startNats();
    const registry = memoryRegistry();
    const make = (name: string): MicroService => {
      const svc = createService({
        name,
        registry,
        transport: natsTransport({ servers: url }),
        broker: natsBroker({ servers: url }),
        timeout: 1000,
        retries: 0,
      });
      services.push(svc);
      return svc;
    };
    const echo = make('echo');
    echo.handle<{ n: number }, { n: number }>('Echo.Call', (req) => ({ n: req.n }));
    const seen = new Map<number, number>();
    let probes = 0;
    echo.subscribe<{ n: number }>('fault.numbers', (message) => {
      if (message.n < 0) probes++;
      else seen.set(message.n, (seen.get(message.n) ?? 0) + 1);
    });
    await echo.start();
    const caller = make('caller');
    expect(await caller.call('echo', 'Echo.Call', { n: 1 })).toEqual({ n: 1 });

    await killNats();
    const failures: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      failures.push(await caller.call('echo', 'Echo.Call', { n: i }).catch((e: unknown) => e));
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const failure of failures) {
      expect(isMicroError(failure, 'unavailable') || isMicroError(failure, 'deadline_exceeded')).toBe(true);
    }

    await startNats();
    const restarted = Date.now();
    await expect
      .poll(() => caller.call('echo', 'Echo.Call', { n: 2 }).catch(() => undefined), {
        timeout: 10_000,
        interval: 100,
      })
      .toEqual({ n: 2 });
    expect(Date.now() - restarted).toBeLessThan(10_000);
    // Both ends' broker connections are back once a probe gets through.
    await expect
      .poll(
        async () => {
          await caller.publish('fault.numbers', { n: -1 }).catch(() => undefined);
          return probes;
        },
        { timeout: 10_000, interval: 100 },
      )
      .toBeGreaterThan(0);

    const total = 200;
    for (let n = 0; n < total; n++) await caller.publish('fault.numbers', { n });
    await expect.poll(() => seen.size, { timeout: 5000 }).toBe(total);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.size).toBe(total);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(unhandled).toEqual([]);
  });
});
