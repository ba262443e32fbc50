import { memoryRegistry, type Registry, type Service } from '@micro-os/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Heartbeat, heartbeat } from '../src/heartbeat.js';

const service: Service = {
  name: 'greeter',
  version: '1.0.0',
  metadata: {},
  endpoints: [],
  nodes: [{ id: 'n1', address: '127.0.0.1:4100', metadata: {} }],
};

/** A memory registry whose registrations take `ms` to be acknowledged. */
function slow(ms: number): Registry {
  const inner = memoryRegistry();
  return {
    ...inner,
    register: async (s, o) => {
      await new Promise((r) => setTimeout(r, ms));
      await inner.register(s, o);
    },
    deregister: (s) => inner.deregister(s),
    close: () => inner.close(),
  };
}

/** Closes a heartbeat while the fake clock lets its renewal in flight finish. */
async function stop(beat: Heartbeat): Promise<void> {
  const closed = beat.close();
  await vi.advanceTimersByTimeAsync(1000);
  await closed;
}

describe('heartbeat schedule', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts renewals one interval apart however long each takes', async () => {
    const beat = heartbeat(slow(150), service, { ttl: 600, interval: 200 });
    // Starts at 0, 200, ... 2000, each acknowledged 150 ms later: 10 by 2.1 s (not 6, as 350 ms apart).
    await vi.advanceTimersByTimeAsync(2100);
    expect(beat.beats).toBe(10);
    await stop(beat);
  });

  it('follows a renewal slower than the interval at once, without a burst of missed ones', async () => {
    const beat = heartbeat(slow(500), service, { ttl: 1500, interval: 200 });
    // Starts at 0, 500, 1000, 1500, each one as soon as the previous one was acknowledged.
    await vi.advanceTimersByTimeAsync(2100);
    expect(beat.beats).toBe(4);
    await stop(beat);
  });
});
