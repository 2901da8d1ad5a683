import { describeError, DependencyUnavailableError, kafkaRecordFault, outageReason } from './failure';
import { ProducerBackpressureError } from './record-producer';

/** Errors shaped as node-postgres, TypeORM and kafkajs raise them (their classes are not imported: only shapes matter). */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('outageReason', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5433'), { code: 'ECONNREFUSED' }), 'connection failed (ECONNREFUSED)'],
    ['PostgreSQL shutting down', pgError('57P01', 'terminating connection due to administrator command'), 'SQLSTATE 57P01'],
    ['a statement timeout', pgError('57014', 'canceling statement due to statement timeout'), 'SQLSTATE 57014'],
    ['a lock timeout', pgError('55P03', 'canceling statement due to lock timeout'), 'SQLSTATE 55P03'],
    ['a read-only standby after a failover', pgError('25006', 'cannot execute INSERT in a read-only transaction'), 'SQLSTATE 25006'],
    ['refused credentials', pgError('28P01', 'password authentication failed for user "kairos"'), 'SQLSTATE 28P01'],
    ['a table the migrations have not created', pgError('42P01', 'relation "state_entries" does not exist'), 'SQLSTATE 42P01'],
    ['a prepared statement a pooler discarded', pgError('26000', 'prepared statement "kairos_0123456789abcdef" does not exist'), 'SQLSTATE 26000'],
    ['a prepared statement a migration made stale', pgError('0A000', 'cached plan must not change result type'), 'SQLSTATE 0A000'],
    ['a TypeORM QueryFailedError around a connection loss', Object.assign(new Error('Query failed'), { name: 'QueryFailedError', driverError: pgError('08006', 'connection failure') }), 'SQLSTATE 08006'],
    ['node-postgres losing its connection', new Error('Connection terminated unexpectedly'), 'database unavailable: Connection terminated unexpectedly'],
    ['a kafkajs request timeout', Object.assign(new Error('Request timed out'), { name: 'KafkaJSRequestTimeoutError' }), 'broker unavailable (KafkaJSRequestTimeoutError)'],
    ['producer back-pressure', new ProducerBackpressureError('64 MB wait'), 'broker back-pressure'],
    ['a dependency the handler names', new DependencyUnavailableError('smtp', '421 try later'), 'smtp unavailable: 421 try later'],
    ['an outage wrapped as a cause', new Error('publishing failed', { cause: Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' }) }), 'connection failed (ECONNRESET)'],
    ['a publish before the producer connected, or after it disconnected', new DependencyUnavailableError('broker', 'the producer is not connected'), 'broker unavailable'],
  ])('recognises %s', (_name, error, expected) => {
    expect(outageReason(error)).toContain(expected);
  });

  it.each([
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'email')")],
    ['a feature the data asks for that PostgreSQL lacks', pgError('0A000', 'unit "week" not supported for type time')],
    ['a constraint violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['a record the broker refuses for its size', Object.assign(new Error('The request included a message larger than the max message size'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' })],
    [
      'that refusal as kafkajs\' retrier wraps it',
      Object.assign(new Error('The request included a message larger than the max message size'), {
        name: 'KafkaJSNonRetriableError',
        cause: Object.assign(new Error('The request included a message larger than the max message size'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' }),
      }),
    ],
    ['a thrown string', 'no'],
  ])('does not excuse %s', (_name, error) => {
    expect(outageReason(error)).toBeUndefined();
  });
});

describe('kafkaRecordFault', () => {
  const tooLarge = () => Object.assign(new Error('The request included a message larger than the max message size'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });

  it('names the refusal of a record for its own sake, also wrapped by kafkajs', () => {
    expect(kafkaRecordFault(tooLarge())).toBe('MESSAGE_TOO_LARGE');
    expect(kafkaRecordFault(Object.assign(new Error('retrier gave up'), { name: 'KafkaJSNonRetriableError', cause: tooLarge() }))).toBe('MESSAGE_TOO_LARGE');
  });

  it.each([
    ['an outage', Object.assign(new Error('Request timed out'), { name: 'KafkaJSRequestTimeoutError' })],
    ['another protocol error', Object.assign(new Error('This server is not the leader'), { name: 'KafkaJSProtocolError', type: 'NOT_LEADER_FOR_PARTITION' })],
    ['a plain bug', new TypeError('Cannot read properties of undefined')],
  ])('names nothing for %s', (_name, error) => {
    expect(kafkaRecordFault(error)).toBeUndefined();
  });
});

describe('describeError', () => {
  it('says what an object thrown as an error holds instead of "[object Object]"', () => {
    expect(describeError({ code: 'E1', detail: 'x' })).toBe('{"code":"E1","detail":"x"}');
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});
