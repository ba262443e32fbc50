import { defineConfig } from 'vitest/config';

const resolve = { conditions: ['@micro-os/source'] };

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    projects: [
      {
        resolve,
        ssr: { resolve: { conditions: ['@micro-os/source'], externalConditions: ['@micro-os/source'] } },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['**/*.fault.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
          hookTimeout: 30_000,
          // The unit project runs first; the fault project (timing bounds, killed servers) then runs alone.
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve,
        ssr: { resolve: { conditions: ['@micro-os/source'], externalConditions: ['@micro-os/source'] } },
        test: {
          name: 'fault',
          include: ['packages/*/test/**/*.fault.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
