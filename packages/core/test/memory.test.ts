import { Channel, MicroError, memoryBroker, memoryRegistry, memoryTransport } from '@micro-os/core';
import { brokerSuite, registrySuite, transportSuite } from '@micro-os/core/testing';
import { describe, expect, it } from 'vitest';

transportSuite('memory', { create: () => memoryTransport() });
brokerSuite('memory', { create: () => memoryBroker({ onError: () => undefined }) });
registrySuite('memory', { create: () => memoryRegistry(), ttlSlack: 300 });

describe('Channel', () => {
  it('delivers pushed items in order, then ends', async () => {
    const channel = new Channel<number>();
    channel.push(1);
    channel.push(2);
    channel.end();
    const seen: number[] = [];
    for await (const n of channel) seen.push(n);
    expect(seen).toEqual([1, 2]);
  });

  it('delivers undefined items like any other', async () => {
    const channel = new Channel<number | undefined>();
    channel.push(undefined);
    channel.push(1);
    channel.end();
    const seen: (number | undefined)[] = [];
    for await (const n of channel) seen.push(n);
    expect(seen).toEqual([undefined, 1]);
  });

  it('fail makes a waiting reader throw the error', async () => {
    const channel = new Channel<number>();
    const reading = (async () => {
      for await (const _ of channel) {
        // nothing arrives
      }
    })();
    await new Promise((r) => setTimeout(r, 5));
    channel.fail(new MicroError('unavailable', 'backend lost'));
    await expect(reading).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('an aborted signal ends the iteration', async () => {
    const controller = new AbortController();
    const channel = new Channel<number>(controller.signal);
    setTimeout(() => controller.abort(), 5);
    const seen: number[] = [];
    for await (const n of channel) seen.push(n);
    expect(seen).toEqual([]);
  });
});
