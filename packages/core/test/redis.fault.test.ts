import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { type Broker, isMicroError } from '@micro-os/core';
import { redisBroker } from '@micro-os/core/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A throwaway redis-server of our own (never the shared one on 6379): killed with SIGKILL under a running
 * broker, then restarted on the same port.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}

function startRedis(port: number): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { cwd: tmpdir(), stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  return child;
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(50);
  }
}

const message = (text: string) => ({
  contentType: 'text/plain',
  metadata: {},
  body: new TextEncoder().encode(text),
});
const text = (body: Uint8Array): string => new TextDecoder().decode(body);

describe('redis broker across a redis-server kill and restart', () => {
  let port: number;
  let server: ChildProcess | undefined;
  const brokers: Broker[] = [];
  const errors: unknown[] = [];
  const make = (): Broker => {
    const broker = redisBroker({ url: `redis://127.0.0.1:${port}`, onError: (e) => errors.push(e) });
    brokers.push(broker);
    return broker;
  };

  beforeAll(async () => {
    port = await freePort();
    server = startRedis(port);
    await until(() => answersPing(port), 10_000, 'redis-server start');
  });
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    server?.kill('SIGKILL');
  });

  it('fails publishes with unavailable while down, then delivers each message once after the restart', async () => {
    const topic = 'fault.orders';
    const [publisher, plain, workerA, workerB] = [make(), make(), make(), make()];
    const plainGot: string[] = [];
    const groupGot: string[] = [];
    const byMember = { a: 0, b: 0 };
    await plain.subscribe(topic, (m) => void plainGot.push(text(m.body)));
    await workerA.subscribe(
      topic,
      (m) => {
        byMember.a++;
        groupGot.push(text(m.body));
      },
      { queue: 'workers' },
    );
    await workerB.subscribe(
      topic,
      (m) => {
        byMember.b++;
        groupGot.push(text(m.body));
      },
      { queue: 'workers' },
    );
    await publisher.publish(topic, message('before'));
    await until(
      () => plainGot.includes('before') && groupGot.includes('before'),
      5000,
      'delivery before the kill',
    );

    // Kill the server: publishes fail with a typed error, quickly, and nothing crashes.
    const killed = server as ChildProcess;
    const exited = new Promise((resolve) => killed.once('exit', resolve));
    killed.kill('SIGKILL');
    await exited;
    server = undefined;
    let failures = 0;
    await until(
      async () => {
        const started = Date.now();
        const err = await publisher.publish(topic, message('while-down')).catch((e: unknown) => e);
        if (err === undefined) return false;
        expect(isMicroError(err, 'unavailable'), String(err)).toBe(true);
        expect(Date.now() - started).toBeLessThan(6000);
        failures++;
        return failures >= 5;
      },
      15_000,
      'five failed publishes',
    );
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => isMicroError(e))).toBe(true);

    // Restart on the same port: ioredis reconnects and resubscribes by itself.
    server = startRedis(port);
    await until(() => answersPing(port), 10_000, 'redis-server restart');
    // Probe until the plain subscriber and both group members are back (each member gets its turn of probes).
    const seen = { a: byMember.a, b: byMember.b };
    let probe = 0;
    await until(
      async () => {
        await publisher.publish(topic, message(`probe-${probe++}`)).catch(() => undefined);
        await sleep(100);
        return plainGot.some((m) => m.startsWith('probe-')) && byMember.a > seen.a && byMember.b > seen.b;
      },
      30_000,
      'reconnection of every subscriber',
    );
    await sleep(200);

    plainGot.length = 0;
    groupGot.length = 0;
    for (let i = 0; i < 200; i++) await publisher.publish(topic, message(`m-${i}`));
    const expected = Array.from({ length: 200 }, (_, i) => `m-${i}`);
    const real = (list: string[]): string[] => list.filter((m) => m.startsWith('m-'));
    await until(
      () => real(plainGot).length >= 200 && real(groupGot).length >= 200,
      10_000,
      'delivery of 200',
    );
    await sleep(300);
    expect(real(plainGot)).toEqual(expected);
    expect(real(groupGot).sort()).toEqual([...expected].sort());
  }, 60_000);
});
