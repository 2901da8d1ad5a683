import { gunzipSync } from 'node:zlib';

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body as JSON: gunzipped when Content-Encoding says gzip (bounded, so a small bomb cannot expand past
 * the limit), checked for size, UTF-8 and syntax. Errors carry the HTTP status the client gets.
 */
export function parseRequestBody(body: Buffer | undefined, contentEncoding: string | undefined, maxBytes: number): unknown {
  if (!body || body.length === 0) throw new BodyError(400, 'invalid_json', 'the request has no body');
  let bytes = body;
  if (contentEncoding?.toLowerCase() === 'gzip') {
    try {
      bytes = gunzipSync(body, { maxOutputLength: maxBytes + 1 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
      throw new BodyError(400, 'invalid_encoding', `the body is not valid gzip: ${(error as Error).message}`);
    }
  } else if (contentEncoding && contentEncoding.toLowerCase() !== 'identity') {
    throw new BodyError(400, 'invalid_encoding', `Content-Encoding ${contentEncoding} is not supported; use gzip or none`);
  }
  if (bytes.length > maxBytes) throw tooLarge(maxBytes);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new BodyError(400, 'invalid_encoding', 'the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BodyError(400, 'invalid_json', `the body is not JSON: ${(error as Error).message}`);
  }
}

function tooLarge(maxBytes: number): BodyError {
  return new BodyError(413, 'size_violation', `the body is larger than ${maxBytes} bytes`);
}
