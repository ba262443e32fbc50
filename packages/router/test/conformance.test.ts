import { cachedSelector } from '@micro-os/core';
import { routerSelector } from '../src/index.js';
import { selectorSuite } from '../src/testing.js';

for (const strategy of ['round-robin', 'random', 'least-outstanding', 'p2c-ewma'] as const)
  selectorSuite(`router ${strategy}`, { create: (registry) => routerSelector({ registry, strategy }) });
selectorSuite('core cachedSelector', { create: (registry) => cachedSelector({ registry }) });
