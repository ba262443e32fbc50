import type { Level, Output } from './output.js';

/** An output keeping every line in memory, parsed, for tests. */
export interface MemoryOutput extends Output {
  /** The lines written so far, parsed from JSON. */
  lines(): Record<string, unknown>[];
  /** The raw lines written so far. */
  raw(): string[];
  clear(): void;
}

export function memoryOutput(options: { level?: Level } = {}): MemoryOutput {
  const raw: string[] = [];
  return {
    name: 'memory',
    level: options.level,
    stream: {
      write(line: string) {
        raw.push(line);
      },
    },
    lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>),
    raw: () => [...raw],
    clear: () => {
      raw.length = 0;
    },
    flush: async () => undefined,
    close: async () => undefined,
  };
}
