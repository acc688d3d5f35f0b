import type { Response } from 'express';
import type { IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';

/**
 * Holds back the end of `response` until `settle` has seen the answer exactly as it is sent
 * (status, content type, body: a handler's value and a problem the exception filter wrote alike),
 * so an answer reaches the client only once it is stored, and a retry that follows it is replayed.
 * A client that hangs up changes nothing: the command runs on and its answer is still written (to
 * a closed socket), so it is kept; giving the key up then would let the client's retry run the
 * command a second time while the first still runs.
 */
export function captureAnswer(response: Response, settle: (answer: IdempotentAnswer) => Promise<void>): void {
  const write = response.write.bind(response) as (...args: unknown[]) => boolean;
  const end = response.end.bind(response) as (...args: unknown[]) => Response;
  const chunks: Buffer[] = [];
  let ended = false;
  const collect = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
  };
  response.write = ((chunk: unknown, encoding?: unknown) => {
    collect(chunk, encoding);
    return true;
  }) as Response['write'];
  response.end = ((chunk?: unknown, encoding?: unknown, callback?: unknown) => {
    if (ended) return response;
    ended = true;
    collect(chunk, encoding);
    const done = [chunk, encoding, callback].find((argument) => typeof argument === 'function');
    const body = Buffer.concat(chunks);
    const contentType = response.getHeader('content-type');
    const answer = { status: response.statusCode, contentType: typeof contentType === 'string' ? contentType : '', body: body.toString('utf8') };
    void settle(answer)
      .catch(() => undefined)
      .finally(() => {
        response.write = write as Response['write'];
        response.end = end as Response['end'];
        if (done === undefined) end(body);
        else end(body, done);
      });
    return response;
  }) as Response['end'];
}
