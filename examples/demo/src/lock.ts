/** Three workers take turns on one lock; each write is checked with the lock's fencing token. */
import { isMicroError, sleep } from '@micro-os/core';
import { Fence, memoryLocks } from '@micro-os/sync';

export async function lockStep(): Promise<string[]> {
  await using locks = memoryLocks();
  const fence = new Fence();
  const turns: string[] = [];
  const tokens: number[] = [];
  await Promise.all(
    ['worker-a', 'worker-b', 'worker-c'].map((worker) =>
      locks.withLock(
        'invoice-42',
        async (_signal, lock) => {
          fence.admit(lock.token);
          tokens.push(lock.token);
          turns.push(`${worker} (token ${lock.token})`);
          await sleep(10);
        },
        { ttl: 1000 },
      ),
    ),
  );
  const late = (() => {
    try {
      fence.admit(tokens[0] ?? 0);
      return 'admitted';
    } catch (err) {
      return isMicroError(err) ? `${err.code} (${String(err.details.reason)})` : String(err);
    }
  })();
  return [
    `invoice-42 held in turn by ${turns.join(', ')}`,
    `tokens increase: ${tokens.every((t, i) => i === 0 || t > (tokens[i - 1] ?? 0))}; a late write with token ${tokens[0]} -> ${late}`,
  ];
}
