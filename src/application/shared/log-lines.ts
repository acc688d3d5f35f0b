/**
 * A log line written for one request or reaction, carrying its correlation id: handed to Nest's
 * Logger as the message (`logger.warn(correlated(id, 'text'))`), it becomes the line's `msg`
 * and `correlationId` fields in the JSON logs.
 *
 * Why explicit, not ambient: an AsyncLocalStorage holding the request's logger would put the id
 * on every line without this, but on Node 20 it turns on promise hooks for the whole process,
 * which cost about 6 % of the CPU of each order placed (BENCHMARKS.md). The lines written while
 * a request is handled are few and known; each says whose it is.
 */
export interface CorrelatedLine {
  readonly correlationId: string;
  readonly msg: string;
}

export function correlated(correlationId: string, msg: string): CorrelatedLine {
  return { correlationId, msg };
}
