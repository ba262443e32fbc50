import { randomUUID } from 'node:crypto';
import { createService, memoryRegistry } from '@micro-os/core';
import { natsTransport } from '@micro-os/core/nats';
import { connect, type Msg } from '@nats-io/transport-node';
import { ServiceBroker } from 'moleculer';
import { compare } from './harness.js';

const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The baseline: a minimal hand-written RPC on the raw client, one reply subscription plus a correlation id. */
async function rawRpc(): Promise<{ call: (value: unknown) => Promise<unknown>; close: () => Promise<void> }> {
  const serverConn = await connect({ servers });
  const clientConn = await connect({ servers });
  const subject = `bench.raw.${randomUUID()}`;
  serverConn.subscribe(subject, {
    callback: (_err, msg) => {
      const request = JSON.parse(decoder.decode(msg.data)) as unknown;
      msg.respond(encoder.encode(JSON.stringify(request)));
    },
  });
  const inbox = `_INBOX.${randomUUID()}.`;
  const pending = new Map<number, (msg: Msg) => void>();
  clientConn.subscribe(`${inbox}*`, {
    callback: (_err, msg) => {
      const id = Number(msg.subject.slice(inbox.length));
      pending.get(id)?.(msg);
      pending.delete(id);
    },
  });
  await serverConn.flush();
  await clientConn.flush();
  let next = 0;
  return {
    call: (value) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, (msg) => resolve(JSON.parse(decoder.decode(msg.data))));
        clientConn.publish(subject, encoder.encode(JSON.stringify(value)), { reply: `${inbox}${id}` });
      }),
    close: async () => {
      await clientConn.close();
      await serverConn.close();
    },
  };
}

/** core over NATS vs the raw NATS RPC and vs Moleculer over its NATS transporter. */
export async function benchNats(): Promise<void> {
  const registry = memoryRegistry();
  const server = createService({ name: 'bench', registry, transport: natsTransport({ servers }) });
  server.handle<{ n: number }, { n: number }>('Bench.Echo', (req) => req);
  await server.start();
  const client = createService({ name: 'bench-client', registry, transport: natsTransport({ servers }) });
  const payload = { n: 1 };
  const ours = () => client.call('bench', 'Bench.Echo', payload);
  await ours();

  const raw = await rawRpc();
  const baseline = () => raw.call(payload);
  await compare('core over NATS vs raw NATS RPC, sequential', ours, baseline, {
    count: 5000,
    concurrency: 1,
    target: 0.9,
  });
  await compare('core over NATS vs raw NATS RPC, 64 in flight', ours, baseline, {
    count: 40_000,
    concurrency: 64,
    target: 0.8,
  });
  await raw.close();

  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const transporter = { type: 'NATS', options: { url: servers } } as const;
  const molServer = new ServiceBroker({ logger: false, namespace, nodeID: 'mol-server', transporter });
  molServer.createService({
    name: 'bench',
    actions: { echo: (ctx: { params: { n: number } }) => ctx.params },
  });
  const molClient = new ServiceBroker({ logger: false, namespace, nodeID: 'mol-client', transporter });
  await molServer.start();
  await molClient.start();
  await molClient.waitForServices(['bench']);
  const moleculer = () => molClient.call('bench.echo', payload);
  await compare('core over NATS vs Moleculer over NATS, sequential', ours, moleculer, {
    count: 5000,
    concurrency: 1,
    target: 1.0,
  });
  await compare('core over NATS vs Moleculer over NATS, 64 in flight', ours, moleculer, {
    count: 40_000,
    concurrency: 64,
    target: 1.5,
  });
  await molClient.stop();
  await molServer.stop();

  await client.stop();
  await server.stop();
  await client.transport.close();
  await server.transport.close();
}
