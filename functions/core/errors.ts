/**
 * One error hierarchy. Every remediator maps its SDK's errors onto these classes (`classify`), and
 * the engine decides only by class, never by message. Each carries the service's own code and
 * request id so an operator can quote them to the cloud provider.
 */

/**
 * Node's transport codes worth another try, one set for both clouds' clients (the engine's budget
 * bounds how often). Per code, and why:
 * - `ECONNRESET`, `ECONNREFUSED`, `ETIMEDOUT`, `EPIPE`: the connection failed or broke; the request
 *   may not have reached the service (the AWS SDK's smithy core retries the same,
 *   `NODEJS_TIMEOUT_ERROR_CODES`). `ECONNABORTED`: an aborted connection, and axios's timeout.
 * - `EHOSTUNREACH`, `ENETUNREACH`, `ENETDOWN`: no route at this moment (an interface or route
 *   coming up); smithy core's `NODEJS_NETWORK_ERROR_CODES` retries the first two.
 * - `EAI_AGAIN`: the resolver's own "temporary failure in name resolution".
 * Not `ENOTFOUND`: Node gives it for getaddrinfo's EAI_NONAME / EAI_NODATA (lib/internal/errors.js
 * `dnsException`), the resolver's answer that the name does not exist. Our hosts are fixed per
 * service and region (or the operator's override), so it means a region without that service or a
 * misspelt override, and a retry seconds later meets the resolver's cached negative answer
 * (RFC 2308): it fails at once, with its code, instead of burning the budget. (Smithy core does
 * retry it; atrest does not.) Nor TLS failures.
 */
export const RETRYABLE_NODE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

export interface ServiceErrorContext {
  /** The service's error code, e.g. `OperationAbortedException`, `Throttling.User`. */
  code: string;
  requestId?: string;
  /** HTTP status, when there was a response. */
  status?: number;
}

export abstract class RemediationError extends Error {
  readonly code: string;
  readonly requestId?: string;
  readonly status?: number;
  /** Whether the engine may try again after a backoff. */
  abstract readonly retryable: boolean;

  constructor(message: string, context: ServiceErrorContext, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = context.code;
    if (context.requestId !== undefined) this.requestId = context.requestId;
    if (context.status !== undefined) this.status = context.status;
  }
}

/** Someone else is changing the same resource (OperationAborted, HTTP 409): re-read, then retry. */
export class ConflictError extends RemediationError {
  readonly retryable = true;
}

/** The API's rate limit was hit: retry after backoff. */
export class ThrottledError extends RemediationError {
  readonly retryable = true;
}

/** 5xx, connection reset, timeout: retry after backoff. */
export class TransientError extends RemediationError {
  readonly retryable = true;
}

/**
 * A success answer whose body lacks what the read needs (`{}`, empty, a proxy's page, a field of
 * the wrong type): never taken as a state — `{}` would otherwise read as "no key" or "not found".
 * Retryable, so the engine asks again inside its budget (a glitching proxy may answer properly
 * next time); past the budget the outcome is `failed` with code `UnexpectedResponse`.
 */
export class UnexpectedResponseError extends RemediationError {
  readonly retryable = true;

  constructor(message: string, context: Partial<ServiceErrorContext> = {}, options?: ErrorOptions) {
    super(message, { ...context, code: context.code ?? 'UnexpectedResponse' }, options);
  }
}

/** The resource exists but cannot take the change yet (cluster still creating): defer. */
export class NotReadyError extends RemediationError {
  readonly retryable = false;
}

/** The resource no longer exists. */
export class GoneError extends RemediationError {
  readonly retryable = false;
}

/** The request is invalid: missing, disabled or wrong-spec key, bad parameter. Retrying burns quota. */
export class InvalidError extends RemediationError {
  readonly retryable = false;
}

/** Permission denied (IAM/RAM, key policy, RBAC). */
export class DeniedError extends RemediationError {
  readonly retryable = false;
}

/** A hard quota (a count of resources, not a rate) is reached: retrying cannot help; raise the quota. */
export class QuotaExceededError extends RemediationError {
  readonly retryable = false;
}

/** Anything we could not classify: treated as permanent so it surfaces instead of looping. */
export class UnexpectedError extends RemediationError {
  readonly retryable = false;
}

/**
 * The idempotency store failed (table missing, throttled, access denied, a lost answer): carries
 * the store's own code and request id. The delivery is not settled; the platform retries it.
 */
export class IdempotencyStoreError extends RemediationError {
  readonly retryable = true;
  /** Which step failed: taking the key, recording completion, or releasing it after unsettled work. */
  readonly step: 'claim' | 'complete' | 'release';

  constructor(
    step: 'claim' | 'complete' | 'release',
    message: string,
    context: ServiceErrorContext,
    options?: ErrorOptions,
  ) {
    super(message, context, options);
    this.step = step;
  }
}

/** Wraps whatever a store's call threw, keeping a classified error's code, request id and status. */
export function storeError(step: IdempotencyStoreError['step'], thrown: unknown): IdempotencyStoreError {
  if (thrown instanceof IdempotencyStoreError) return thrown;
  const e = (thrown ?? {}) as {
    code?: unknown;
    name?: unknown;
    requestId?: unknown;
    status?: unknown;
    message?: unknown;
  };
  const code =
    typeof e.code === 'string' && e.code !== ''
      ? e.code
      : typeof e.name === 'string'
        ? e.name
        : 'IdempotencyStoreError';
  const message = typeof e.message === 'string' ? e.message : String(thrown);
  return new IdempotencyStoreError(
    step,
    `idempotency store (${step}): ${message}`,
    {
      code,
      ...(typeof e.requestId === 'string' ? { requestId: e.requestId } : {}),
      ...(typeof e.status === 'number' ? { status: e.status } : {}),
    },
    { cause: thrown },
  );
}

/** An event or config that fails validation; never reaches a cloud API. */
class ValidationError extends Error {
  readonly issues: readonly string[];

  constructor(message: string, issues: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** A bad config: start-up stops, naming the field. */
export class ConfigError extends ValidationError {
  constructor(issues: readonly string[], options?: ErrorOptions) {
    super(`invalid config: ${issues.join('; ')}`, issues, options);
    this.name = 'ConfigError';
  }
}

/**
 * The error code for an answer whose body is not the service's own (a proxy's or load balancer's
 * HTML page, an empty 502): the HTTP status's reason phrase without spaces (`ServiceUnavailable`,
 * `BadGateway`, `TooManyRequests`), as the OSS SDKs report such answers; `HTTP<status>` for a
 * status without one. Never `SyntaxError`: that names our parser, not what happened.
 */
export function httpStatusCode(status: number): string {
  const phrase = STATUS_PHRASES[status];
  return phrase !== undefined ? phrase.replace(/[^A-Za-z0-9]/g, '') : `HTTP${status}`;
}

const STATUS_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
