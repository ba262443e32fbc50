import type { ClientWrapper, HandlerWrapper, PublishWrapper, SubscriberWrapper } from '@micro-os/core';
import { traceClient, tracePublish } from './client.js';
import { traceHandler, traceSubscriber } from './server.js';
import type { TraceOptions } from './tracer.js';

export interface TraceWrappers {
  clientWrappers: ClientWrapper[];
  handlerWrappers: HandlerWrapper[];
  publishWrappers: PublishWrapper[];
  subscriberWrappers: SubscriberWrapper[];
}

/** The four wrappers in the shape `createService` takes: `createService({ name, ...traceWrappers() })`. */
export function traceWrappers(options: TraceOptions = {}): TraceWrappers {
  return {
    clientWrappers: [traceClient(options)],
    handlerWrappers: [traceHandler(options)],
    publishWrappers: [tracePublish(options)],
    subscriberWrappers: [traceSubscriber(options)],
  };
}
