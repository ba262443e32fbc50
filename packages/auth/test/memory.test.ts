import { memoryAuthStore } from '../src/index.js';
import { authStoreSuite } from '../src/testing.js';

authStoreSuite('memory', { create: () => memoryAuthStore() });
