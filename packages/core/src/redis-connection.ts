import { Redis } from 'ioredis';

/**
 * The connection a Redis backend opens and owns when given a URL: connects on first use, fails a command
 * after one reconnect attempt or `timeout` ms instead of queueing it, reconnects at least every 500 ms so the
 * first call after an outage finds the server back, and has an `error` listener so a dead server never
 * crashes the process (failures surface as failed commands).
 */
export function ownedRedisConnection(url: string, timeout: number): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: timeout,
    connectTimeout: timeout,
    retryStrategy: (times: number) => Math.min(times * 50, 500),
  });
  client.on('error', () => undefined);
  return client;
}
