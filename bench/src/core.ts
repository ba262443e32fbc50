import { benchHttp } from './http.js';
import { benchMemory } from './memory.js';
import { benchNats } from './nats.js';

/** `pnpm --filter @micro-os/bench core [memory|http|nats]`: the core benchmarks, or the one named. */
const only = process.argv[2];
if (only === undefined || only === 'memory') await benchMemory();
if (only === undefined || only === 'nats') await benchNats();
if (only === undefined || only === 'http') await benchHttp();
