import { invalidArgument } from '@micro-os/core';

/** Label values by label name; numbers are written in decimal. */
export type Labels = Readonly<Record<string, string | number>>;

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Label names Prometheus gives a meaning of its own. */
/** A UTF-16 surrogate without its pair: not valid UTF-8 once encoded. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const reserved: ReadonlySet<string> = new Set(['le', 'quantile']);

/** A valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), or `invalid_argument`. */
export function checkMetricName(name: unknown): string {
  if (typeof name !== 'string' || !metricName.test(name))
    throw invalidArgument(
      `metric name ${JSON.stringify(name)} is invalid: use letters, digits, '_' and ':', not starting with a digit`,
      { name },
    );
  return name;
}

/** A valid Prometheus label name, not reserved (`le`, `quantile`, `__*`), or `invalid_argument`. */
export function checkLabelName(metric: string, name: unknown): string {
  if (typeof name !== 'string' || !labelName.test(name) || name.startsWith('__') || reserved.has(name))
    throw invalidArgument(
      `label name ${JSON.stringify(name)} of metric ${metric} is invalid: use letters, digits and '_', ` +
        `not starting with a digit or '__', and not 'le' or 'quantile'`,
      { metric, label: name },
    );
  return name;
}

/**
 * Checks a label set against the names a metric declared and returns it with every value a string.
 * Values must be strings of well-formed UTF-16 up to `maxLength` characters, or finite numbers.
 */
export function checkLabels(
  metric: string,
  declared: ReadonlySet<string>,
  labels: Labels,
  maxLength: number,
): Record<string, string> {
  if (typeof labels !== 'object' || labels === null)
    throw invalidArgument(`labels of metric ${metric} must be an object, got ${String(labels)}`);
  const out: Record<string, string> = {};
  for (const name of Object.keys(labels)) {
    if (!declared.has(name))
      throw invalidArgument(
        `label ${JSON.stringify(name)} is not declared for metric ${metric} (declared: ${[...declared].join(', ') || 'none'})`,
        { metric, label: name },
      );
    const value = labels[name];
    let text: string;
    if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
    else if (typeof value === 'string' && !loneSurrogate.test(value)) text = value;
    else
      throw invalidArgument(
        `label ${name} of metric ${metric} must be a string or a finite number, got ${String(value)}`,
        { metric, label: name },
      );
    if (text.length > maxLength)
      throw invalidArgument(
        `label ${name} of metric ${metric} is ${text.length} characters long; the limit is ${maxLength}`,
        { metric, label: name },
      );
    out[name] = text;
  }
  return out;
}

/** A stable key for a label set: names sorted. */
export function seriesKey(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  names.sort();
  let key = '';
  for (const name of names) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}
