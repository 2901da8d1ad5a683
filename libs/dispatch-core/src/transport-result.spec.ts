import { classifySmtpFailure, classifyWebhookStatus } from './transport-result';

describe('classifying transport failures', () => {
  it('makes 5xx permanent, 4xx temporary, and a server that does not answer at all an outage', () => {
    expect(classifySmtpFailure({ responseCode: 550, response: '550 5.1.1 no such user' })).toEqual({ type: 'smtp-permanent', code: 550, detail: '550 5.1.1 no such user' });
    expect(classifySmtpFailure({ responseCode: 451, response: '451 try later' })).toEqual({ type: 'smtp-temporary', code: 451, detail: '451 try later' });
    expect(classifySmtpFailure({ code: 'ECONNECTION', message: 'connect ECONNREFUSED 127.0.0.1:2525' })).toEqual({ type: 'smtp-unreachable', detail: 'ECONNECTION: connect ECONNREFUSED 127.0.0.1:2525' });
    expect(classifySmtpFailure({ code: 'ETIMEDOUT', message: 'Greeting never received' })).toMatchObject({ type: 'smtp-unreachable' });
    expect(classifySmtpFailure({ code: 'EDNS', message: 'getaddrinfo ENOTFOUND relay' })).toMatchObject({ type: 'smtp-unreachable' });
    // nodemailer's own connect reports a refused connection or a failed lookup as ESOCKET, with Node's syscall.
    expect(classifySmtpFailure({ code: 'ESOCKET', syscall: 'connect', message: 'connect ECONNREFUSED 127.0.0.1:2525' })).toEqual({ type: 'smtp-unreachable', detail: 'ESOCKET: connect ECONNREFUSED 127.0.0.1:2525' });
    expect(classifySmtpFailure({ code: 'ESOCKET', syscall: 'getaddrinfo', message: 'getaddrinfo ENOTFOUND relay' })).toMatchObject({ type: 'smtp-unreachable' });
    expect(classifySmtpFailure({ code: 'ESOCKET', message: 'socket closed unexpectedly' })).toMatchObject({ type: 'smtp-temporary' });
    expect(classifySmtpFailure({ code: 'EMESSAGE', message: 'bad message' })).toMatchObject({ type: 'smtp-permanent', code: 554 });
  });

  it('keeps a reply with CR/LF on one line', () => {
    expect(classifySmtpFailure({ responseCode: 421, response: '421 closing\r\nbye' }).detail).toBe('421 closing bye');
  });

  it('maps webhook answers: 2xx accepted, 5xx/408/429 temporary, other 4xx permanent', () => {
    expect(classifyWebhookStatus(204, '')).toMatchObject({ type: 'smtp-accepted', response: 'HTTP 204' });
    expect(classifyWebhookStatus(503, 'busy')).toEqual({ type: 'smtp-temporary', code: 503, detail: 'HTTP 503: busy' });
    expect(classifyWebhookStatus(429, '')).toMatchObject({ type: 'smtp-temporary' });
    expect(classifyWebhookStatus(404, '')).toMatchObject({ type: 'smtp-permanent', code: 404 });
  });
});
