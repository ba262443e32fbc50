import { randomUUID } from 'node:crypto';
import { createService, memoryRegistry } from '@micro-os/core';
import { traceWrappers } from '@micro-os/trace';
import { describe, expect, it } from 'vitest';

describe('tracing without an SDK', () => {
  it('calls straight through and adds no metadata', async () => {
    const name = `plain-${randomUUID().slice(0, 8)}`;
    const svc = createService({ name, registry: memoryRegistry(), ...traceWrappers() });
    svc.handle('Plain.Echo', (_request, context) => ({ ...context.metadata }));
    await svc.start();
    try {
      await expect(svc.call(name, 'Plain.Echo', {}, { metadata: { 'x-a': '1' } })).resolves.toEqual({
        'x-a': '1',
      });
    } finally {
      await svc.stop();
    }
  });
});
