import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';

/**
 * Hands a Kafka handler's error to the BatchConsumer as it was thrown. Nest's default RPC filter logs it with its
 * stack and replaces it with {status: 'error', message: 'Internal server error'}: the consumer could then no longer
 * tell a database outage (to wait out) from a poison record (to dead-letter), and dead letters said "[object Object]".
 * The consumer logs and classifies the failure itself.
 */
@Catch()
export class KafkaHandlerErrorsFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
