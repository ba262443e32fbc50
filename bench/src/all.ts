import { benchMemory } from './memory.js';

const only = process.argv[2];
if (only === undefined || only === 'memory') await benchMemory();
