import { memoryEvents } from '../src/memory.js';
import { eventSuite } from '../src/testing.js';

eventSuite('memory', {
  create: (() => {
    // Two handles on one in-process log, as two processes would share one stream.
    const shared = memoryEvents();
    return () => ({ ...shared, close: async () => undefined, [Symbol.asyncDispose]: async () => undefined });
  })(),
  invalidFactories: [() => memoryEvents({ maxRecordBytes: 0 }), () => memoryEvents({ source: '' })],
});
