import { BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';
import { problem, type FieldError } from './problem.js';

/** Caller-supplied ids: 1-64 characters of [A-Za-z0-9_-]. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** class-validator at the edge: unknown fields are rejected, and every error names its field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    // One message per field: a missing amount is "missing", not five complaints about its value.
    stopAtFirstError: true,
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

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = prefix + error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(error.children ?? [], `${field}.`)];
  });
}

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
