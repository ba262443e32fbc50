import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchHttp } from './http.js';
import { benchMemory } from './memory.js';
import { benchNats } from './nats.js';

/**
 * `pnpm --filter @micro-os/bench core [memory|http|nats]`: the core benchmarks, or the one named. Without a name,
 * each runs in a process of its own, one after the other: in one process, what ran before (the other transports'
 * code in the JIT, their garbage) moved a later case's ratio by 10-20 %.
 */
const only = process.argv[2];
const cases = { memory: benchMemory, nats: benchNats, http: benchHttp } as const;
if (only === undefined) {
  for (const name of Object.keys(cases)) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], {
        stdio: 'inherit',
      });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`core ${name} exited ${code}`))));
    });
  }
} else {
  const run = cases[only as keyof typeof cases];
  if (run === undefined) throw new Error(`unknown case ${only}: memory, nats or http`);
  await run();
}
