import { ArgumentsHost, Catch, HttpServer } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { Observable, throwError } from 'rxjs';

/**
 * Hands a Kafka handler's error to the BatchConsumer as it was thrown. Nest's default RPC filter logs it with its
 * stack and replaces it with {status: 'error', message: 'Internal server error'}: the consumer could then no longer
 * tell a database outage (to wait out) from a poison record (to dead-letter), and dead letters said "[object Object]".
 * The consumer logs and classifies the failure itself.
 *
 * A hybrid app (HTTP + Kafka) shares one set of global filters between both, registered before the Kafka transport
 * is connected; so HTTP errors are passed on to Nest's own HTTP handling unchanged.
 */
@Catch()
export class KafkaHandlerErrorsFilter extends BaseExceptionFilter {
  constructor(httpAdapter?: HttpServer) {
    super(httpAdapter);
  }

  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() === 'rpc') return throwError(() => exception);
    return super.catch(exception, host);
  }
}
