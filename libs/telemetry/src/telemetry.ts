import { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { recordEventLoopDelay } from './event-loop-metrics';

export type TelemetryExporter = 'prometheus' | 'otlp' | 'none';

export interface TelemetryOptions {
  serviceName: string;
  exporter: TelemetryExporter;
  /** OTLP/HTTP base URL, used when exporter is otlp. */
  otlpEndpoint: string;
}

/**
 * Tracing and metrics for one process. Traces always propagate (W3C trace context through Kafka headers), so a trace
 * id follows an event across services even where no exporter is set; spans are exported only with OTLP.
 * Metrics are scraped from /metrics (prometheus) or pushed (otlp).
 */
export class Telemetry {
  private constructor(
    private readonly tracerProvider: NodeTracerProvider,
    private readonly meterProvider: MeterProvider,
    private readonly prometheus: PrometheusExporter | undefined,
    private readonly stopEventLoopDelay: () => void,
  ) {}

  static start(options: TelemetryOptions): Telemetry {
    const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: `kairos-${options.serviceName}` });
    const spanProcessors: SpanProcessor[] = [];
    const readers: MetricReader[] = [];
    let prometheus: PrometheusExporter | undefined;
    if (options.exporter === 'otlp') {
      spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.otlpEndpoint}/v1/traces` })));
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${options.otlpEndpoint}/v1/metrics` }),
          exportIntervalMillis: 15_000,
        }),
      );
    } else if (options.exporter === 'prometheus') {
      prometheus = new PrometheusExporter({ preventServerStart: true });
      readers.push(prometheus);
    }
    const tracerProvider = new NodeTracerProvider({ resource, spanProcessors });
    tracerProvider.register();
    const meterProvider = new MeterProvider({ resource, readers });
    metrics.setGlobalMeterProvider(meterProvider);
    const stopEventLoopDelay = recordEventLoopDelay(meterProvider.getMeter('kairos.runtime'));
    return new Telemetry(tracerProvider, meterProvider, prometheus, stopEventLoopDelay);
  }

  /** Serves the Prometheus exposition format; undefined unless the exporter is prometheus. */
  get metricsHandler(): ((request: IncomingMessage, response: ServerResponse) => void) | undefined {
    const prometheus = this.prometheus;
    return prometheus ? (request, response) => prometheus.getMetricsRequestHandler(request, response) : undefined;
  }

  async shutdown(): Promise<void> {
    this.stopEventLoopDelay();
    // The global provider goes with it, so a service started again in the same process (a test's restart) registers
    // its own instead of the API refusing a second registration and keeping this shut-down one.
    if (metrics.getMeterProvider() === this.meterProvider) metrics.disable();
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
  }
}
