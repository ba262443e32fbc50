import { randomUUID } from 'node:crypto';
import {
  type Broker,
  createService,
  MicroError,
  type MicroService,
  memoryBroker,
  memoryRegistry,
  memoryTransport,
  type Transport,
} from '@micro-os/core';
import { traceWrappers } from '@micro-os/trace';

export interface TwoServices {
  front: MicroService;
  back: MicroService;
  frontName: string;
  backName: string;
  /** Topic `back` subscribes to (traced), and the bodies it received. */
  topic: string;
  events: unknown[];
  /** Metadata the back service saw on its last call. */
  seen: Record<string, string>[];
  stop(): Promise<void>;
}

/** `front` serves Front.Call by calling `back`'s Back.Call; Back.Fail throws not_found; both traced. */
export async function twoServices(
  transport: () => Transport = memoryTransport,
  broker: Broker = memoryBroker(),
): Promise<TwoServices> {
  const registry = memoryRegistry();
  const transports: Transport[] = [];
  const own = (): Transport => {
    const made = transport();
    transports.push(made);
    return made;
  };
  const frontName = `front-${randomUUID().slice(0, 8)}`;
  const backName = `back-${randomUUID().slice(0, 8)}`;
  const seen: Record<string, string>[] = [];
  const back = createService({
    name: backName,
    registry,
    broker,
    transport: own(),
    ...traceWrappers(),
  });
  back.handle('Back.Call', (request: { n: number }, context) => {
    seen.push({ ...context.metadata });
    return { n: request.n + 1 };
  });
  const topic = `${backName}.events`;
  const events: unknown[] = [];
  back.subscribe(topic, (body) => {
    events.push(body);
  });
  back.handle('Back.Fail', () => {
    throw new MicroError('not_found', 'no such thing');
  });
  const front = createService({
    name: frontName,
    registry,
    broker,
    transport: own(),
    retries: 0,
    ...traceWrappers(),
  });
  front.handle('Front.Call', async (request: { n: number }) => front.call(backName, 'Back.Call', request));
  front.handle('Front.Fail', async () => front.call(backName, 'Back.Fail', {}));
  await back.start();
  await front.start();
  return {
    front,
    back,
    frontName,
    backName,
    seen,
    topic,
    events,
    async stop() {
      await front.stop();
      await back.stop();
      await Promise.all(transports.map((t) => t.close()));
      await broker.close();
    },
  };
}
