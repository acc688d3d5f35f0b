import type { FastifyInstance } from 'fastify';
import type { FieldError } from './problem.js';
import { validationFailed } from './validation.js';

/** How deep a body may nest (the top-level object or array is level 1). */
export const MAX_BODY_DEPTH = 32;
/** How many object keys a body may hold, all levels together. */
export const MAX_BODY_KEYS = 1000;
/** Keys that reach for an object's prototype when a library copies or merges the body into an object. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The first thing wrong with the shape of a parsed body, or null. Walked with a stack of its own,
 * not by recursion: a body nested thousands deep is what this is here to refuse (class-transformer
 * recurses over it and overflows the call stack, a 500).
 */
export function bodyShapeProblem(body: unknown, limits = { maxDepth: MAX_BODY_DEPTH, maxKeys: MAX_BODY_KEYS }): FieldError | null {
  if (body === null || typeof body !== 'object') return null;
  const pending: { value: object; depth: number; path: string }[] = [{ value: body, depth: 1, path: 'body' }];
  let keys = 0;
  while (pending.length > 0) {
    const { value, depth, path } = pending.pop()!;
    if (depth > limits.maxDepth) return { field: 'body', message: `nests deeper than ${limits.maxDepth} levels` };
    const isArray = Array.isArray(value);
    const names = Object.keys(value);
    if (!isArray) {
      keys += names.length;
      if (keys > limits.maxKeys) return { field: 'body', message: `has more than ${limits.maxKeys} keys` };
    }
    for (const name of names) {
      if (!isArray && PROTOTYPE_KEYS.has(name)) return { field: `${path}.${name}`, message: `the key ${name} is not allowed` };
      const child = (value as Record<string, unknown>)[name];
      if (child !== null && typeof child === 'object') pending.push({ value: child, depth: depth + 1, path: isArray ? `${path}[${name}]` : `${path}.${name}` });
    }
  }
  return null;
}

/**
 * A Fastify hook, once the body is parsed: a body nested too deep, with too many keys, or with a
 * prototype key anywhere is refused `400 validation` before any guard, route or validation pipe
 * sees it.
 */
export function guardBodyShape(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    const problem = bodyShapeProblem(request.body);
    done(problem === null ? undefined : validationFailed([problem]));
  });
}
