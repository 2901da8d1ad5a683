import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ingestionMetrics } from '../ingestion-metrics';

/**
 * Bodies reach the collector as raw bytes (whatever the content type: browser SDKs send text/plain to avoid CORS
 * preflights), so it can gunzip, bound and decode them itself. CORS is open: browser SDKs post from shop pages.
 * Every answer's time is recorded from the request's arrival (kairos_collector_request_duration_seconds).
 */
export function configureCollectorHttp(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('access-control-allow-origin', request.headers.origin ?? '*');
    reply.header('vary', 'origin');
    reply.header('access-control-allow-credentials', 'true');
    if (request.method === 'OPTIONS') {
      reply
        .header('access-control-allow-methods', 'POST, OPTIONS')
        .header('access-control-allow-headers', 'authorization, content-type, content-encoding')
        .header('access-control-max-age', '86400')
        .status(204)
        .send();
      return;
    }
    done();
  });
  fastify.addHook('onResponse', (_request, reply, done) => {
    ingestionMetrics().requestDuration.record(reply.elapsedTime / 1000, { status: String(reply.statusCode) });
    done();
  });
}
