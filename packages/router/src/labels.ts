import type { ClientWrapper, Filter, Metadata, Node, Service } from '@micro-os/core';

/** Call metadata keys starting with this select nodes by label: `x-micro-label-track: canary`. */
export const labelPrefix = 'x-micro-label-';

/** The labels a call asks for, from its (lower-case) metadata. */
export function labelsOf(metadata: Metadata): Record<string, string> | undefined {
  let labels: Record<string, string> | undefined;
  for (const key in metadata) {
    if (!key.startsWith(labelPrefix)) continue;
    labels ??= {};
    labels[key.slice(labelPrefix.length)] = metadata[key] as string;
  }
  return labels;
}

/** Does `node` carry every label? `version` also matches the service version. */
export function matchesLabels(service: Service, node: Node, labels: Record<string, string>): boolean {
  for (const key in labels) {
    const have = node.metadata[key] ?? (key === 'version' ? service.version : undefined);
    if (have !== labels[key]) return false;
  }
  return true;
}

/** A core Filter keeping only the nodes that carry every label. */
export function labelFilter(labels: Record<string, string>): Filter {
  return (services) => {
    const out: Service[] = [];
    for (const s of services) {
      const nodes = s.nodes.filter((n) => matchesLabels(s, n, labels));
      if (nodes.length > 0) out.push(nodes.length === s.nodes.length ? s : { ...s, nodes });
    }
    return out;
  };
}

/**
 * Client wrapper for label routing: a call whose metadata has `x-micro-label-<name>: <value>` goes only to
 * nodes whose metadata has `<name>: <value>` (or, for `version`, that service version). Works with any
 * selector, since it adds a core Filter to the call.
 */
export function routerClient(): ClientWrapper {
  return (next) => (request, options) => {
    const labels = labelsOf(request.metadata);
    if (labels === undefined) return next(request, options);
    return next(request, { ...options, filters: [...(options.filters ?? []), labelFilter(labels)] });
  };
}
