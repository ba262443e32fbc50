import type { Metadata } from '@micro-os/core';
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** Writes propagation headers (`traceparent`, `tracestate`, `baggage`) into core Metadata, keys in lower case. */
export const metadataSetter: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    carrier[key.toLowerCase()] = value;
  },
};

/** Reads propagation headers from core Metadata (whose keys are lower case). */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};
