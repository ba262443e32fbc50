/**
 * Metadata travels with every call and message: trace context, auth token, routing labels.
 * Keys are case-insensitive on the wire and stored in lower case.
 */
export type Metadata = Record<string, string>;

/** Returns a new Metadata with every key in lower case; later sources win. */
export function mergeMetadata(...sources: ReadonlyArray<Metadata | undefined>): Metadata {
  const out: Metadata = {};
  for (const source of sources) {
    if (source === undefined) continue;
    for (const key of Object.keys(source)) {
      const value = source[key];
      if (typeof value === 'string') out[key.toLowerCase()] = value;
    }
  }
  return out;
}
