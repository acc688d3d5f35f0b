import { BadRequestException, ValidationPipe, type PipeTransform, type ValidationError } from '@nestjs/common';
import { problem, type FieldError } from './problem.js';

/** Caller-supplied ids: 1-64 characters of [A-Za-z0-9_-]. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** class-validator at the edge: unknown fields are rejected, and every error names its field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    // Every constraint is checked, and flatten() keeps one message per field (see there).
    stopAtFirstError: false,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailed(flatten(errors)),
  });
}

export function validationFailed(errors: FieldError[]): BadRequestException {
  const detail = errors.map((error) => `${error.field}: ${error.message}`).join('; ') || 'the request is not valid';
  return new BadRequestException({ problem: problem('validation', detail, { errors }) });
}

/**
 * One message per field: the first broken rule as the DTO reads, top down. A DTO states a field's
 * rules from the most basic (present, an integer) to the finer ones (at most N), and class-validator
 * lists broken rules bottom up, so the last one listed is meant: "amount": "100" is "must be an
 * integer", not "must not be greater than 9007199254740991".
 */
function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = prefix + error.property;
    // class-validator checks "is it there" before any other rule, and lists it first.
    const { isDefined, ...rules } = error.constraints ?? {};
    const message = isDefined ?? Object.values(rules).at(-1);
    const own = message === undefined ? [] : [{ field, message }];
    return [...own, ...flatten(error.children ?? [], `${field}.`)];
  });
}

/**
 * The body of an action that takes no fields (sync, resend, "I have paid"): absent, or `{}`. A
 * field is an unknown one, `400 validation` as everywhere else. Use with a body typed `object`,
 * which the global ValidationPipe passes through.
 */
export const NO_FIELDS: PipeTransform<unknown, object> = {
  transform(value: unknown): object {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw validationFailed([{ field: 'body', message: 'must be absent, or {}' }]);
    const fields = Object.keys(value);
    if (fields.length > 0) throw validationFailed(fields.map((field) => ({ field, message: `property ${field} should not exist` })));
    return value;
  },
};

/** The schema of such a body, for @ApiBody. */
export const NO_FIELDS_SCHEMA = { type: 'object', additionalProperties: false, description: 'no fields: send no body, or {}' } as const;

/** Path ids are checked before they become stream names. */
export function checkId(field: string, value: string): string {
  if (!ID_PATTERN.test(value)) throw validationFailed([{ field, message: 'must be 1-64 characters of [A-Za-z0-9_-]' }]);
  return value;
}

/**
 * An orderId, or an order's key `merchantId.orderId` (how auditors, operators and the open service
 * name an order placed with a merchant key); each part follows the id rule.
 */
export function checkOrderRef(value: string): string {
  const dot = value.indexOf('.');
  if (dot < 0) return checkId('orderId', value);
  checkId('orderId', value.slice(0, dot));
  checkId('orderId', value.slice(dot + 1));
  return value;
}
