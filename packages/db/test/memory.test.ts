import { memoryDB } from '../src/index.js';
import { dbSuite } from '../src/testing.js';

dbSuite('memory', { create: () => memoryDB() });
