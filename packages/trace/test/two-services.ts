import { randomUUID } from 'node:crypto';
import {
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
  /** Metadata the back service saw on its last call. */
  seen: Record<string, string>[];
  stop(): Promise<void>;
}

/** `front` serves Front.Call by calling `back`'s Back.Call; Back.Fail throws not_found; both traced. */
export async function twoServices(transport: () => Transport = memoryTransport): Promise<TwoServices> {
  const registry = memoryRegistry();
  const broker = memoryBroker();
  const frontName = `front-${randomUUID().slice(0, 8)}`;
  const backName = `back-${randomUUID().slice(0, 8)}`;
  const seen: Record<string, string>[] = [];
  const back = createService({
    name: backName,
    registry,
    broker,
    transport: transport(),
    ...traceWrappers(),
  });
  back.handle('Back.Call', (request: { n: number }, context) => {
    seen.push({ ...context.metadata });
    return { n: request.n + 1 };
  });
  back.handle('Back.Fail', () => {
    throw new MicroError('not_found', 'no such thing');
  });
  const front = createService({
    name: frontName,
    registry,
    broker,
    transport: transport(),
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
    async stop() {
      await front.stop();
      await back.stop();
    },
  };
}
