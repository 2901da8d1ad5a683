import cors, { FastifyCorsOptions } from '@fastify/cors';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ingestionMetrics } from '../ingestion-metrics';

/**
 * What a browser SDK on any shop's page needs to post events, and no more. Any origin, because sources are
 * identified by their write key, not by the page; never credentials, because the write key travels in the
 * Authorization header or the body, not in a cookie — allowing credentials would only let any site send requests
 * carrying the visitor's cookies for this host, which nothing here reads.
 */
const COLLECTOR_CORS: FastifyCorsOptions = {
  origin: '*',
  methods: ['POST', 'OPTIONS'],
  allowedHeaders: ['authorization', 'content-type', 'content-encoding'],
  credentials: false,
  // A day: a browser asks once per page origin and endpoint, not before every batch.
  maxAge: 86_400,
};

/**
 * Bodies reach the collector as raw bytes (whatever the content type: browser SDKs send text/plain to avoid CORS
 * preflights), so it can gunzip, bound and decode them itself. Every answer's time is recorded from the request's
 * arrival (kairos_collector_request_duration_seconds).
 */
export function configureCollectorHttp(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  // Fastify loads the plugin when the server becomes ready, before it listens.
  void fastify.register(cors, COLLECTOR_CORS);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  fastify.addHook('onResponse', (_request, reply, done) => {
    ingestionMetrics().requestDuration.record(reply.elapsedTime / 1000, { status: String(reply.statusCode) });
    done();
  });
}
