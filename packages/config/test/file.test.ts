import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from '@micro-os/config/file';
import { configSourceSuite } from '@micro-os/config/testing';

const dirs = new WeakMap<object, string>();

configSourceSuite('file', {
  create: async () => {
    const dir = join(tmpdir(), `micro-config-${randomUUID()}`);
    await mkdir(dir);
    const file = join(dir, 'config.json');
    await writeFile(file, '{}');
    const source = fileSource(file);
    dirs.set(source, dir);
    return source;
  },
  set: async (source, doc) => {
    await writeFile(join(dirs.get(source) as string, 'config.json'), JSON.stringify(doc));
  },
  destroy: async (source) => {
    await rm(dirs.get(source) as string, { recursive: true, force: true });
  },
});
