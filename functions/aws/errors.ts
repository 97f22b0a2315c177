/**
 * Maps AWS SDK v3 errors onto the engine's error classes, by the service's error name, the HTTP
 * status and `$fault` — never by message. Shared by every AWS function: the codes below are the
 * generic AWS ones; a service-specific code falls through to UnexpectedError with its name kept.
 */
import { unexpected } from '#core/engine';
import {
  ConflictError,
  DeniedError,
  GoneError,
  httpStatusCode,
  InvalidError,
  RETRYABLE_NODE_CODES,
  RemediationError,
  type ServiceErrorContext,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';

const CONFLICT = new Set(['OperationAbortedException']);
const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'LimitExceededException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);
const TRANSIENT = new Set(['ServiceUnavailableException', 'InternalFailure', 'InternalServerError']);
const GONE = new Set(['ResourceNotFoundException']);
// STS (and the other query-protocol services) say `AccessDenied`, without the suffix: for
// AssumeRole, the role is missing or does not trust us.
const DENIED = new Set(['AccessDeniedException', 'AccessDenied']);
const INVALID = new Set(['InvalidParameterException', 'ValidationException']);
/** Node / SDK transport failures: the request may not have reached the service; safe to retry. */
const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'AbortError', 'ResponseTooLarge']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
}

/**
 * A DynamoDB write's condition did not hold (someone else holds or changed the item): an answer,
 * not a failure. By name, which the SDK's own class also carries, so a client from another copy of
 * the SDK is read alike.
 */
export function isConditionFailed(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

/** Classifies whatever an AWS SDK v3 call threw. Already-classified errors pass through. */
export function classifyAwsError(error: unknown): RemediationError {
  if (error instanceof RemediationError) return error;
  if (typeof error !== 'object' || error === null) return unexpected(error);
  const e = error as SdkErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  // The SDK could not parse the body (a proxy's HTML page on a 5xx): the code comes from the status.
  const foreign = e.name === 'SyntaxError' && status !== undefined;
  const name = foreign ? httpStatusCode(status) : typeof e.name === 'string' ? e.name : 'Error';
  const requestId = typeof e.$metadata?.requestId === 'string' ? e.$metadata.requestId : undefined;
  const message = foreign
    ? `HTTP ${status} with a body that is not the service's answer`
    : typeof e.message === 'string' && e.message !== ''
      ? e.message
      : name;
  const systemCode = typeof e.code === 'string' ? e.code : undefined;
  const context: ServiceErrorContext = {
    code: name,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(status !== undefined ? { status } : {}),
  };
  const options = { cause: error };

  if (CONFLICT.has(name)) return new ConflictError(message, context, options);
  if (THROTTLED.has(name) || status === 429) return new ThrottledError(message, context, options);
  if (GONE.has(name)) return new GoneError(message, context, options);
  if (DENIED.has(name)) return new DeniedError(message, context, options);
  if (INVALID.has(name)) return new InvalidError(message, context, options);
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500) || e.$fault === 'server')
    return new TransientError(message, context, options);
  // Node's codes, the same set as the Alibaba Cloud clients' (#core/errors); never the message.
  if (NETWORK_NAMES.has(name) || (systemCode !== undefined && RETRYABLE_NODE_CODES.has(systemCode)))
    return new TransientError(message, { ...context, code: systemCode ?? name }, options);
  // Unknown: keep the service's code and request id so the operator can quote them.
  if (e.$metadata !== undefined) return new UnexpectedError(message, context, options);
  return unexpected(error);
}
