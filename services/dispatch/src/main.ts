import 'reflect-metadata';
import { DispatchRequestRecord, EVENT_SCHEMAS, ProfileErasure, SchemaIds, SchemaValidator, Topics } from '@kairos/contracts';
import { trustProxyOf } from '@kairos/config';
import { jsonDecoder } from '@kairos/kafka';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadDispatchConfig } from './dispatch.config';
import { DeliverUseCase } from './delivery/deliver.use-case';
import { DispatchModule } from './dispatch.module';
import { DISPATCH_SETTINGS, dispatchSettings } from './dispatch.settings';
import { dispatchMigrations } from './migrations';

export function startDispatch(env: NodeJS.ProcessEnv = process.env) {
  const config = loadDispatchConfig(env);
  const settings = dispatchSettings(config, (message) => console.warn(`dispatch: ${message}`), env);
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const running = runService({
    ...commonServiceOptions('dispatch', config),
    followDefinitions: true,
    // A request that is not what the schema allows is dead-lettered by the consumer, never half sent.
    subscriptions: [
      { topic: Topics.dispatchRequests.name, decoder: jsonDecoder<DispatchRequestRecord>(validator, SchemaIds.dispatchRequest) },
      { topic: Topics.erasures.name, decoder: jsonDecoder<ProfileErasure>(validator, SchemaIds.profileErasure) },
    ],
    // Engagement events go back to ingestion.
    produces: [Topics.internal.name],
    module: DispatchModule,
    providers: [{ provide: DISPATCH_SETTINGS, useValue: settings }],
    http: {
      port: config.DISPATCH_PORT,
      bodyLimit: 64 * 1024,
      trustProxy: trustProxyOf(config.HTTP_TRUST_PROXY),
      // Signed tokens travel in the path: key id, claims and signature, some 200-300 characters.
      maxParamLength: 2_048,
      configure: (app) => {
        // RFC 8058 allows multipart/form-data as well as form-urlencoded one-click bodies; the token decides, the
        // body is not read, so any other content type is accepted and ignored rather than answered 415.
        // Bounce and complaint reports come as the mail the mail system sent (POST /bounces), read as bytes.
        const fastify = app.getHttpAdapter().getInstance();
        fastify.addContentTypeParser(['multipart/report', 'message/rfc822'], { parseAs: 'buffer' }, (_request: unknown, body: Buffer, done: (error: Error | null, body?: unknown) => void) => done(null, body));
        fastify.addContentTypeParser('*', { parseAs: 'string' }, (_request: unknown, _body: unknown, done: (error: Error | null, body?: unknown) => void) => done(null, undefined));
      },
    },
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'dispatch', migrations: dispatchMigrations, poolSize: 20 },
  });
  return running.then((service) => {
    const deliver = service.app.get(DeliverUseCase);
    service.health.register('smtp', () => deliver.smtpStatus());
    return service;
  });
}

if (require.main === module) runAsMain(() => startDispatch());
