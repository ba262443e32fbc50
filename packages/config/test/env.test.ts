import { envSource } from '@micro-os/config';
import { configSourceSuite } from '@micro-os/config/testing';

const envs = new WeakMap<object, Record<string, string>>();

configSourceSuite('env', {
  create: () => {
    const env: Record<string, string> = { OTHER_DB__PORT: '1' };
    const source = envSource({ prefix: 'MYAPP', env });
    envs.set(source, env);
    return source;
  },
  set: (source, doc) => {
    const env = envs.get(source) as Record<string, string>;
    const flatten = (value: unknown, name: string): void => {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [key, child] of Object.entries(value)) flatten(child, `${name}__${key.toUpperCase()}`);
      } else env[name] = Array.isArray(value) ? value.join(',') : String(value);
    };
    for (const key of Object.keys(env)) if (key.startsWith('MYAPP_')) delete env[key];
    for (const [key, value] of Object.entries(doc)) flatten(value, `MYAPP_${key.toUpperCase()}`);
  },
  watch: false,
});
