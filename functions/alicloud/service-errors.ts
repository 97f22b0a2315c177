/**
 * The Alibaba Cloud client kit's errors: one service-error / network-error pair that every
 * client throws as its own named subclass (SLS, OSS Tables, the OpenAPI client; Tablestore and the
 * CLI's fc2 path read their SDK's errors into one), and one table-driven classifier onto the
 * core hierarchy (#core/errors). A client brings a table of rules — its service's codes and
 * statuses, in order, first match wins — instead of a classifier of its own; transport failures go through http.ts `classifyNetwork` (one set of
 * network codes) and anything else through `unknownFailure` (one "unknown → Unexpected" mapping).
 */
import {
  ConflictError,
  DeniedError,
  GoneError,
  InvalidError,
  QuotaExceededError,
  RemediationError,
  ThrottledError,
  TransientError,
} from '#core/errors';
import { classifyNetwork, unknownFailure } from './http.ts';

/** `status` of a service error another SDK reported without its HTTP status (only its code). */
export const NO_STATUS = 0;

/**
 * A service's error answer: its code (else one derived from the status), the HTTP status
 * (`NO_STATUS` when unknown), its request id.
 */
export class AlicloudServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AlicloudServiceError';
  }
}

/** No usable answer: Node's code (`ECONNRESET`, …), `RequestTimeout` or `ResponseTooLarge`. */
export class AlicloudTransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AlicloudTransportError';
  }
}

export type ErrorKind = 'gone' | 'quota' | 'throttled' | 'transient' | 'denied' | 'conflict' | 'invalid';

/** One row of a service's table: when it matches, the error is of `kind`. */
export interface ErrorRule {
  kind: ErrorKind;
  when: (error: AlicloudServiceError) => boolean;
  /** Appended to the message (e.g. what the operator can do about a hard quota). */
  advice?: string;
}

const CLASS_OF = {
  gone: GoneError,
  quota: QuotaExceededError,
  throttled: ThrottledError,
  transient: TransientError,
  denied: DeniedError,
  conflict: ConflictError,
  invalid: InvalidError,
} as const;

/**
 * The classifier of one client: a RemediationError passes through; the client's transport error
 * is classified by its network code; its service error by the first matching rule, else
 * Unexpected with the service's code; anything else is Unexpected.
 */
export function tableClassifier(
  service: abstract new (...args: never[]) => AlicloudServiceError,
  transport: abstract new (...args: never[]) => AlicloudTransportError,
  rules: readonly ErrorRule[],
): (error: unknown) => RemediationError {
  return (error) => {
    if (error instanceof RemediationError) return error;
    if (error instanceof transport) return classifyNetwork(error);
    if (!(error instanceof service)) return unknownFailure(error);
    const { code, status } = error;
    const context = {
      code,
      ...(status !== NO_STATUS ? { status } : {}),
      ...(error.requestId !== undefined ? { requestId: error.requestId } : {}),
    };
    const rule = rules.find((r) => r.when(error));
    if (rule === undefined) return unknownFailure(error, context);
    const message = rule.advice === undefined ? error.message : `${error.message} ${rule.advice}`;
    return new CLASS_OF[rule.kind](message, context, { cause: error });
  };
}
