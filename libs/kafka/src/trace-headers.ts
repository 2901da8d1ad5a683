import { Context, context, propagation, TextMapGetter, TextMapSetter } from '@opentelemetry/api';

const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const getter: TextMapGetter<Readonly<Record<string, string>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** Writes W3C trace context (traceparent, tracestate, baggage) of `from` into Kafka headers, keeping any already set. */
export function injectTraceHeaders(headers: Record<string, string>, from: Context = context.active()): Record<string, string> {
  if (headers['traceparent']) return headers;
  propagation.inject(from, headers, setter);
  return headers;
}

/** The trace context a producer wrote into a record's headers: the parent for spans that process it. */
export function extractTraceContext(headers: Readonly<Record<string, string>>): Context {
  return propagation.extract(context.active(), headers, getter);
}
