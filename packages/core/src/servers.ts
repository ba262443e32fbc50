import { connect } from 'node:net';

/** Where the test servers are: loopback defaults, overridden by the usual environment variables. */
export const testServers = {
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  postgres: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  nats: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  memcached: process.env.MEMCACHED_SERVERS ?? '127.0.0.1:11211',
} as const;

export type TestServer = keyof typeof testServers;

const envNames: Record<TestServer, string> = {
  redis: 'REDIS_URL',
  postgres: 'DATABASE_URL',
  nats: 'NATS_URL',
  memcached: 'MEMCACHED_SERVERS',
};

function hostPort(server: TestServer): { host: string; port: number } {
  const raw = testServers[server].split(',')[0] as string;
  const url = new URL(raw.includes('://') ? raw : `tcp://${raw}`);
  const defaults: Record<TestServer, number> = { redis: 6379, postgres: 5432, nats: 4222, memcached: 11211 };
  return { host: url.hostname || '127.0.0.1', port: url.port === '' ? defaults[server] : Number(url.port) };
}

/**
 * Fails loudly, with the command that starts it, when a server a test needs is not reachable. Tests of a
 * backend never skip silently.
 */
export async function requireServer(server: TestServer, timeout = 2000): Promise<void> {
  const { host, port } = hostPort(server);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (reason: string): void => {
      socket.destroy();
      reject(
        new Error(
          `${server} is not reachable at ${host}:${port} (${reason}). Start the test servers with ` +
            `\`bash scripts/services.sh\` (or set ${envNames[server]} to a running server).`,
        ),
      );
    };
    socket.setTimeout(timeout, () => fail('timed out'));
    socket.once('error', (err) => fail(err.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

/** A random loopback port for a throwaway server of a test's own (the shared servers are never touched). */
export const randomPort = (): number => 20_000 + Math.floor(Math.random() * 20_000);

/** Whether something accepts TCP connections on `port` right now. */
export function accepting(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until something accepts connections on `port` (a server a test just started), or throws after `ms`. */
export async function waitForPort(port: number, ms = 10_000, host = '127.0.0.1'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await accepting(port, host))) {
    if (Date.now() > end) throw new Error(`nothing accepts connections on ${host}:${port} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
