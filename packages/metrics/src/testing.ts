/** One sample of an exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** OpenMetrics exemplar labels, when the line has one. */
  exemplar?: Record<string, string>;
}

const types = new Set([
  'counter',
  'gauge',
  'histogram',
  'summary',
  'untyped',
  'unknown',
  'info',
  'stateset',
  'gaugehistogram',
]);
const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const labelPattern = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Numbers as Prometheus reads them (Go's ParseFloat: `NaN`, `Inf` in any case). */
function parseNumber(text: string, where: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad number ${text}`);
  return Number(text);
}

/** Parses `{a="x",b="y"}` at the start of `text`; returns the labels and the rest. */
function parseLabels(text: string, where: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  while (!rest.startsWith('}')) {
    const name = labelPattern.exec(rest)?.[0];
    if (name === undefined) throw new Error(`${where}: bad label name at ${rest}`);
    rest = rest.slice(name.length);
    if (!rest.startsWith('="')) throw new Error(`${where}: expected =" after label ${name}`);
    rest = rest.slice(2);
    let value = '';
    for (;;) {
      const c = rest[0];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      rest = rest.slice(1);
      if (c === '"') break;
      if (c === '\\') {
        const e = rest[0];
        rest = rest.slice(1);
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new Error(`${where}: bad escape \\${e} in label ${name}`);
      } else value += c;
    }
    if (name in labels) throw new Error(`${where}: label ${name} repeated`);
    labels[name] = value;
    if (rest.startsWith(',')) rest = rest.slice(1);
    else if (!rest.startsWith('}')) throw new Error(`${where}: expected , or } after label ${name}`);
  }
  return [labels, rest.slice(1)];
}

/**
 * Parses a Prometheus text (0.0.4) or OpenMetrics exposition strictly, throwing on the first malformed line or
 * repeated series: a test helper for "the exposition is valid".
 */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line === '' || line === '# EOF') return;
    if (line.startsWith('#')) {
      const [, keyword, name, ...rest] = line.split(' ');
      if (keyword === 'TYPE') {
        if (name === undefined || !namePattern.test(name) || !types.has(rest.join(' ')))
          throw new Error(`${where}: bad TYPE line: ${line}`);
      } else if (keyword === 'HELP' || keyword === 'UNIT') {
        if (name === undefined || namePattern.exec(name)?.[0] !== name)
          throw new Error(`${where}: bad ${keyword} line`);
      }
      return;
    }
    const name = namePattern.exec(line)?.[0];
    if (name === undefined) throw new Error(`${where}: bad metric name in ${line}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, where);
    const [main, exemplarText] = rest.split(' # ');
    const parts = (main ?? '').trim().split(/\s+/);
    if (!(main ?? '').startsWith(' ') || parts.length < 1 || parts.length > 2)
      throw new Error(`${where}: expected ' value [timestamp]' in ${line}`);
    const value = parseNumber(parts[0] as string, where);
    if (parts[1] !== undefined && !/^-?\d+(\.\d+)?$/.test(parts[1]))
      throw new Error(`${where}: bad timestamp`);
    const sample: Sample = { name, labels, value };
    if (exemplarText !== undefined) {
      if (!exemplarText.startsWith('{')) throw new Error(`${where}: bad exemplar in ${line}`);
      const [exemplar, after] = parseLabels(exemplarText, where);
      parseNumber(after.trim().split(/\s+/)[0] ?? '', where);
      sample.exemplar = exemplar;
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: series ${key} repeated`);
    seen.add(key);
    samples.push(sample);
  });
  return samples;
}
