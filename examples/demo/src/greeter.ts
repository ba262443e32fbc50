/**
 * The services of the demo: `names` (formats a name), the greeter 1.0.0 on two instances and its 1.1.0
 * canary (each greeting asks `names`), all authenticating each other with service tokens, traced, measured
 * and routed by one router that sends a weighted share of the traffic to the canary.
 */
import { authClient, authHandler, createAuth, rules } from '@micro-os/auth';
import { type ClientWrapper, createService, type HandlerWrapper, type MicroService } from '@micro-os/core';
import { metricsClient, metricsHandler } from '@micro-os/metrics';
import { monitorClient, monitorHandler } from '@micro-os/monitor';
import { type Router, routerClient, routerSelector } from '@micro-os/router';
import { traceClient, traceHandler } from '@micro-os/trace';
import type { Observability } from './observability.js';
import type { Plumbing } from './plumbing.js';

export interface HelloRequest {
  name: string;
}
export interface HelloResponse {
  message: string;
  instance: string;
  version: string;
}

/** Share of the greeter traffic per version; the canary gets the small one. */
export const canarySplit = { '1.0.0': 90, '1.1.0': 10 };

export interface Fleet {
  /** The caller of the demo: account `demo-client`, scope `greet`. */
  readonly client: MicroService;
  /** A caller without a token. */
  readonly anonymous: MicroService;
  readonly router: Router;
  /** Greeted events handled per greeter instance (queue group `greeters`). */
  readonly greeted: Map<string, number>;
  stop(): Promise<void>;
}

export async function startFleet(p: Plumbing, o: Observability, greeting: string): Promise<Fleet> {
  const auth = createAuth();
  const accessRules = rules([
    { resource: 'greeter:*', access: 'allow', scope: 'greet' },
    { resource: 'names:*', access: 'allow', scope: 'names' },
  ]);
  const router = routerSelector({
    registry: p.registry,
    // Round-robin inside each version keeps the demo's balance easy to read; p2c-ewma is the default.
    strategy: 'round-robin',
    splits: { greeter: { by: 'version', weights: canarySplit } },
  });
  const handlerWrappers: HandlerWrapper[] = [
    traceHandler(),
    metricsHandler(o.metrics),
    monitorHandler(o.monitor),
    authHandler({ verifier: auth.verifier, rules: accessRules }),
  ];
  // One account per service name, shared by its instances.
  const accounts = new Map<string, Promise<ClientWrapper[]>>();
  const account = async (id: string, scopes: string[]): Promise<ClientWrapper[]> => {
    const { secret } = await auth.generate(id, { type: 'service', scopes });
    return [
      traceClient(),
      metricsClient(o.metrics),
      monitorClient(o.monitor),
      routerClient(),
      authClient({ auth, id, secret }),
    ];
  };
  const clientWrappers = (id: string, scopes: string[]): Promise<ClientWrapper[]> => {
    const wrappers = accounts.get(id) ?? account(id, scopes);
    accounts.set(id, wrappers);
    return wrappers;
  };
  const base = { registry: p.registry, selector: router };
  const service = async (name: string, version: string, scopes: string[]): Promise<MicroService> =>
    createService({
      ...base,
      name,
      version,
      transport: p.transport(),
      broker: p.broker(),
      handlerWrappers,
      clientWrappers: await clientWrappers(name, scopes),
    });

  const names = await service('names', '1.0.0', []);
  const namesLog = o.logger.with({ instance: 'names-1' });
  names.handle<HelloRequest, string>('Names.Format', ({ name }) => {
    namesLog.info('formatted a name');
    return name.replace(/^\w/, (c) => c.toUpperCase()).replace('-', ' #');
  });

  const greeted = new Map<string, number>();
  const greeters = await Promise.all(
    [
      { instance: 'greeter-1', version: '1.0.0' },
      { instance: 'greeter-2', version: '1.0.0' },
      { instance: 'greeter-canary', version: '1.1.0' },
    ].map(async ({ instance, version }) => {
      const svc = await service('greeter', version, ['names']);
      const log = o.logger.with({ instance });
      svc.handle<HelloRequest, HelloResponse>('Greeter.Hello', async ({ name }) => {
        const formatted = await svc.call<string>('names', 'Names.Format', { name });
        log.info('greeted');
        const message =
          version === '1.1.0' ? `${greeting}, ${formatted}! (canary)` : `${greeting}, ${formatted}!`;
        return { message, instance, version };
      });
      svc.subscribe('greeter.greeted', () => void greeted.set(instance, (greeted.get(instance) ?? 0) + 1), {
        queue: 'greeters',
      });
      return svc;
    }),
  );
  const services = [names, ...greeters];
  for (const svc of services) await svc.start();

  const client = await service('demo-client', '1.0.0', ['greet']);
  const anonymous = createService({
    ...base,
    name: 'anonymous',
    transport: p.transport(),
    broker: p.broker(),
    retries: 0,
  });
  return {
    client,
    anonymous,
    router,
    greeted,
    async stop() {
      await client.stop();
      await anonymous.stop();
      for (const svc of services) await svc.stop();
      await router.close();
      await auth.close();
    },
  };
}
