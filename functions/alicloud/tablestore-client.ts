/**
 * What the Tablestore (OTS) idempotency store (./tablestore.ts) and the restore counter
 * (./restores.ts) share on the same table: the `tablestore` SDK loaded on first use, a client with
 * a deadline and a body cap that leaves retries to us, calls retried with full jitter on
 * throttling and transient errors, conditional writes that answer false on OTSConditionCheckFail,
 * and OTS errors classified with the service's code and request id.
 */
import { ConflictError, type RemediationError, ThrottledError, TransientError } from '#core/errors';
import { backoffDelay, type RetryPolicy } from '#core/retry';
import type { AlicloudCredentials } from './clients.ts';
import { boundedAgent } from './http.ts';
import {
  AlicloudServiceError,
  AlicloudTransportError,
  type ErrorRule,
  NO_STATUS,
  tableClassifier,
} from './service-errors.ts';

export const CONDITION_FAILED = 'OTSConditionCheckFail';

/** The slice of the untyped `tablestore` SDK the store and the counter use. */
export interface Int64 {
  toNumber(): number;
}
export interface SdkCell {
  columnName: string;
  columnValue: unknown;
}
export interface SdkClient {
  putRow(params: object): Promise<unknown>;
  getRow(params: object): Promise<{ row?: { primaryKey?: unknown[]; attributes?: SdkCell[] } }>;
  updateRow(params: object): Promise<unknown>;
  deleteRow(params: object): Promise<unknown>;
}
export interface TablestoreSdk {
  Client: new (config: Record<string, unknown>) => SdkClient;
  Condition: new (rowExistence: number, columnCondition: unknown) => unknown;
  SingleColumnCondition: new (
    name: string,
    value: unknown,
    comparator: number,
    passIfMissing: boolean,
    latestVersionOnly: boolean,
  ) => unknown;
  RowExistenceExpectation: { IGNORE: number; EXPECT_EXIST: number; EXPECT_NOT_EXIST: number };
  ComparatorType: { EQUAL: number };
  Long: { fromNumber(n: number): Int64 };
}

let sdk: Promise<TablestoreSdk> | undefined;

/**
 * Loads the SDK once, on first use, so functions that never touch the store do not pay for it (it
 * is CommonJS, ~776 KiB bundled, and crashes as an ESM bundle).
 */
function loadSdk(): Promise<TablestoreSdk> {
  sdk ??=
    // @ts-expect-error the tablestore package ships no type declarations; TablestoreSdk above types what we use.
    (import('tablestore') as Promise<{ default?: TablestoreSdk }>).then(
      (mod) => (mod.default ?? mod) as TablestoreSdk,
      (error: unknown) => {
        sdk = undefined;
        throw error;
      },
    );
  return sdk;
}

export interface TablestoreClientOptions {
  /** `https://<instance>.<region>.ots.aliyuncs.com`, its VPC address, or the emulator's URL. */
  endpoint: string;
  instanceName: string;
  /** Read at each connect: Function Compute's STS credentials rotate. An STS token is sent when present. */
  credentials: () => AlicloudCredentials;
  /** Socket timeout, and deadline of one exchange, in ms. Default 10000. */
  timeoutMs?: number;
}

/** A client for one run (credentials read now), and the SDK for its row conditions and Int64s. */
export async function connectTablestore(
  options: TablestoreClientOptions,
): Promise<{ ts: TablestoreSdk; client: SdkClient }> {
  const ts = await loadSdk();
  const credentials = options.credentials();
  const client = new ts.Client({
    endpoint: options.endpoint,
    instancename: options.instanceName,
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.accessKeySecret,
    ...(credentials.securityToken ? { stsToken: credentials.securityToken } : {}),
    // The caller owns retries (OtsCalls). (The SDK keeps this as a process-wide setting; nothing else here uses it.)
    maxRetries: 0,
    // `timeout` is the SDK's idle timeout; the agent adds a deadline on the whole exchange and a
    // body cap (./http.ts boundedAgent).
    httpOptions: {
      timeout: options.timeoutMs ?? 10_000,
      agent: boundedAgent(options.endpoint.startsWith('https:') ? 'https' : 'http', {
        deadlineMs: options.timeoutMs ?? 10_000,
      }),
    },
  });
  return { ts, client };
}

export interface OtsRetryOptions {
  /** Tries of one Tablestore call (throttling, 5xx, network), the first included. Default 4. */
  maxAttempts?: number;
  /** Backoff sleep. Default setTimeout; tests pass `async () => {}`. */
  sleep?: (ms: number) => Promise<void>;
  /** Uniform [0, 1) for full jitter. Default Math.random. */
  random?: () => number;
}

/** Tablestore calls with retries, and conditional writes. */
export class OtsCalls {
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: OtsRetryOptions) {
    this.policy = { maxAttempts: options.maxAttempts ?? 4, baseMs: 50, capMs: 1_000, reserveMs: 0 };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  /** A conditional write: true when applied, false when Tablestore answered OTSConditionCheckFail. */
  async write(action: string, fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(action, fn);
      return true;
    } catch (error) {
      if (error instanceof ConflictError && error.code === CONDITION_FAILED) return false;
      throw error;
    }
  }

  /** One call with full-jitter retry of throttling and transient errors; anything else is thrown typed. */
  async call<V>(action: string, fn: () => Promise<V>): Promise<V> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (thrown) {
        const error = classifyOtsError(thrown, action);
        const retry = error instanceof ThrottledError || error instanceof TransientError;
        if (!retry || attempt >= this.policy.maxAttempts) throw error;
        await this.sleep(backoffDelay(attempt - 1, this.policy, this.random()));
      }
    }
  }
}

/** A Tablestore error answer, its code read from the SDK's error (see classifyOtsError). */
class OtsServiceError extends AlicloudServiceError {
  override name = 'OtsServiceError';
}

/**
 * No answer: the SDK labels every transport failure `NetworkingError` (its `util.error` overwrites
 * Node's code) or `TimeoutError`; our bounded agent's reason stays in the message.
 */
class OtsNetworkError extends AlicloudTransportError {
  override name = 'OtsNetworkError';
}

const THROTTLED = new Set([
  'OTSServerBusy',
  'OTSQuotaExhausted',
  'OTSNotEnoughCapacityUnit',
  'OTSCapacityUnitExhausted',
  'OTSOperationThrottled',
]);
const TRANSIENT = new Set([
  // Two writes to one row at the same instant: the loser may simply try again.
  'OTSRowOperationConflict',
  'OTSTimeout',
  'OTSInternalServerError',
  'OTSServerUnavailable',
  'OTSPartitionUnavailable',
  'OTSTableNotReady',
  'OTSRequestTimeout',
]);
const DENIED = new Set(['OTSAuthFailed', 'OTSNoPermissionAccess']);
const INVALID = new Set([
  'OTSParameterInvalid',
  'OTSObjectNotExist',
  'OTSRequestBodyTooLarge',
  'OTSMethodNotAllowed',
]);
/** The SDK's labels for a failure with no answer (lib/event_listeners.js, lib/http/node.js). */
const SDK_TRANSPORT = new Set(['NetworkingError', 'TimeoutError']);

/** Tablestore's codes and statuses, in order: the first matching row classifies. */
const OTS_RULES: readonly ErrorRule[] = [
  // Not an error to the callers: `OtsCalls.write` turns it into `false` (someone else holds or changed the row).
  { kind: 'conflict', when: ({ code }) => code === CONDITION_FAILED },
  { kind: 'throttled', when: ({ code }) => THROTTLED.has(code) },
  { kind: 'transient', when: ({ code, status }) => TRANSIENT.has(code) || status >= 500 },
  { kind: 'denied', when: ({ code }) => DENIED.has(code) },
  { kind: 'invalid', when: ({ code }) => INVALID.has(code) },
];

const classifyOts = tableClassifier(OtsServiceError, OtsNetworkError, OTS_RULES);

/**
 * Maps what the `tablestore` SDK threw onto the core hierarchy through the client kit's table
 * (service-errors.ts). The SDK's errors carry the HTTP status as a number in `code` and the raw
 * protobuf `Error{code, message}` bytes, decoded as UTF-8, in `message` (plus ` requestId:<id>`).
 * We read the service's code from those bytes: field 1 (tag 0x0a), a one-byte length, ASCII.
 */
export function classifyOtsError(thrown: unknown, action = 'Tablestore'): RemediationError {
  const e = (thrown ?? {}) as { code?: unknown; message?: unknown; headers?: Record<string, unknown> };
  const status = typeof e.code === 'number' ? e.code : undefined;
  const raw = typeof e.message === 'string' ? e.message : String(thrown);
  const header = e.headers?.['x-ots-requestid'] ?? e.headers?.['x-ots-request-id'];
  const requestId = typeof header === 'string' && header !== '' ? header : undefined;
  const decoded = decodeErrorBody(raw);
  const code =
    decoded?.code ??
    (typeof e.code === 'string' ? e.code : status !== undefined ? `HTTP${status}` : 'UnknownError');
  const text = decoded?.message ?? raw;
  const message = `${action}: ${code}${text ? `: ${text}` : ''}`;
  if (status === undefined && SDK_TRANSPORT.has(code))
    return classifyOts(new OtsNetworkError(code, message, { cause: thrown }));
  return classifyOts(new OtsServiceError(code, message, status ?? NO_STATUS, requestId, { cause: thrown }));
}

function decodeErrorBody(raw: string): { code: string; message?: string } | undefined {
  if (raw.charCodeAt(0) !== 0x0a) return undefined;
  const length = raw.charCodeAt(1);
  if (length >= 0x80) return undefined;
  const code = raw.slice(2, 2 + length);
  if (!/^[A-Za-z][\w.]*$/.test(code)) return undefined;
  let rest = raw.slice(2 + length);
  const suffix = rest.lastIndexOf(' requestId:');
  if (suffix >= 0) rest = rest.slice(0, suffix);
  if (rest.charCodeAt(0) !== 0x12) return { code };
  // Field 2's varint length: its high-bit bytes did not survive UTF-8 decoding, only the last byte is intact.
  let i = 1;
  while (i < rest.length && (rest.charCodeAt(i) === 0xfffd || rest.charCodeAt(i) >= 0x80)) i++;
  return { code, message: rest.slice(i + 1) };
}
