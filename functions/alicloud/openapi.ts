/**
 * A thin layer over `@alicloud/openapi-client`'s generic `callApi` for the ACS3-signed APIs the
 * Alibaba Cloud functions call: ECS (RPC), ACK and Function Compute 3.0 (ROA). One client per
 * (service, region), built from `endpointFor()` (fixed host template or the override variable) and
 * a credentials provider that is asked on every request, so rotating STS credentials never go stale
 * in a cached client. The SDK's own retry is off: the engine retries with its budget and jitter.
 *
 * `classifyAlicloud` maps what the client throws onto the typed hierarchy of #core/errors by the
 * service's error code and HTTP status, never by message.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { Readable } from 'node:stream';
import OpenApiModule, { Config, OpenApiRequest, Params } from '@alicloud/openapi-client';
import {
  ConflictError,
  DeniedError,
  GoneError,
  httpStatusCode,
  InvalidError,
  type RemediationError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import { type AlicloudCredentials, type AlicloudService, endpointFor } from './clients.ts';

type OpenApiClient = InstanceType<typeof OpenApiModule>;
type RuntimeOptions = Parameters<OpenApiClient['callApi']>[2];

// The package is CommonJS with `exports.default = Client`: Node's ESM loader hands us the exports
// object, bundlers that honour `__esModule` hand us the class. Accept both.
const ClientClass: typeof OpenApiModule =
  (OpenApiModule as unknown as { default?: typeof OpenApiModule }).default ?? OpenApiModule;

/** API versions of the products we call (each product's own, fixed by its SDK). */
export const API_VERSIONS = { CS: '2015-12-15', ECS: '2014-05-26', FC: '2023-03-30' } as const;

export interface AlicloudApiOptions {
  /** Asked before every request (FC's STS credentials rotate). Never logged. */
  credentials: () => AlicloudCredentials;
  env?: Record<string, string | undefined>;
  /** The account id: Function Compute's endpoint contains it. */
  account?: string;
  /** Socket read timeout per request. Default 10 000 ms. */
  readTimeoutMs?: number;
  /** TCP connect timeout per request. Default 5 000 ms. */
  connectTimeoutMs?: number;
}

export interface ApiResponse<B = unknown> {
  statusCode: number;
  headers: Record<string, string>;
  body: B;
}

export interface RoaCall {
  /** The API name sent as `x-acs-action` (e.g. `UpdateKMSEncryption`). */
  action: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Already percent-encoded path segments (use `encodeURIComponent` on ids). */
  pathname: string;
  query?: Record<string, string>;
  /** JSON body. */
  body?: unknown;
  /** Raw body (sent as `application/octet-stream`, like the FC SDK's invoke body). */
  raw?: Buffer;
  headers?: Record<string, string>;
  /** `json` parses the answer; `none` keeps it as text (APIs that answer with an empty body). Default `json`. */
  bodyType?: 'json' | 'none';
}

type RoaService = Extract<AlicloudService, 'CS' | 'FC'>;
type RpcService = Extract<
  AlicloudService,
  'ECS' | 'KMS' | 'ACTIONTRAIL' | 'EVENTBRIDGE' | 'STS' | 'RESOURCEMANAGER'
>;

/** Signed calls to Alibaba Cloud OpenAPI products. Cheap to create; clients are built on first use. */
export class AlicloudApi {
  private readonly clients = new Map<string, OpenApiClient>();
  private readonly env: Record<string, string | undefined>;

  constructor(private readonly options: AlicloudApiOptions) {
    this.env = options.env ?? process.env;
  }

  /** An RPC call (`POST /?<query>`, ACS3-signed). RegionId is part of `query`: RPC never adds it itself. */
  async rpc(
    service: RpcService,
    region: string,
    action: string,
    version: string,
    query: Record<string, string>,
  ): Promise<ApiResponse<Record<string, unknown>>> {
    const params = new Params({
      action,
      version,
      protocol: 'HTTPS',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    });
    const client = this.client(service, region);
    const response = await withAnswerFacts(() =>
      client.callApi(params, new OpenApiRequest({ query }), this.runtime()),
    );
    return response as ApiResponse<Record<string, unknown>>;
  }

  /** A ROA call (REST path + JSON body, ACS3-signed). */
  async roa(service: RoaService, region: string, call: RoaCall): Promise<ApiResponse> {
    const params = new Params({
      action: call.action,
      version: API_VERSIONS[service],
      protocol: 'HTTPS',
      pathname: call.pathname,
      method: call.method,
      authType: 'AK',
      style: 'ROA',
      reqBodyType: 'json',
      bodyType: call.bodyType ?? 'json',
    });
    const request = new OpenApiRequest({
      ...(call.query ? { query: call.query } : {}),
      ...(call.headers ? { headers: call.headers } : {}),
      ...(call.body !== undefined ? { body: call.body } : {}),
      ...(call.raw !== undefined ? { stream: bufferStream(call.raw) } : {}),
    });
    const client = this.client(service, region);
    const response = await withAnswerFacts(() => client.callApi(params, request, this.runtime()));
    return response as ApiResponse;
  }

  private runtime(): RuntimeOptions {
    // autoretry off: one HTTP attempt per call; the engine owns retry, backoff and the time budget.
    return {
      autoretry: false,
      readTimeout: this.options.readTimeoutMs ?? 10_000,
      connectTimeout: this.options.connectTimeoutMs ?? 5_000,
    } as RuntimeOptions;
  }

  private client(service: AlicloudService, region: string): OpenApiClient {
    const cacheKey = `${service}|${region}`;
    let client = this.clients.get(cacheKey);
    if (!client) {
      // Throws ConfigError for a malformed region or override URL before any request is built.
      const endpoint = endpointFor(service, region, this.env, this.options.account);
      client = new ClientClass(
        new Config({
          endpoint: endpoint.host,
          protocol: endpoint.protocol,
          regionId: region,
          readTimeout: this.options.readTimeoutMs ?? 10_000,
          connectTimeout: this.options.connectTimeoutMs ?? 5_000,
          credential: credentialAdapter(this.options.credentials),
        }),
      );
      this.clients.set(cacheKey, client);
    }
    return client;
  }
}

export function createAlicloudApi(options: AlicloudApiOptions): AlicloudApi {
  return new AlicloudApi(options);
}

/** openapi-client reads credentials through this interface (`getCredential()` per request). */
function credentialAdapter(provider: () => AlicloudCredentials): Config['credential'] {
  const current = async () => {
    const c = provider();
    return {
      accessKeyId: c.accessKeyId,
      accessKeySecret: c.accessKeySecret,
      securityToken: c.securityToken ?? '',
      bearerToken: '',
      type: c.securityToken ? 'sts' : 'access_key',
      providerName: '',
    };
  };
  const adapter = {
    getCredential: current,
    getAccessKeyId: async () => (await current()).accessKeyId,
    getAccessKeySecret: async () => (await current()).accessKeySecret,
    getSecurityToken: async () => (await current()).securityToken,
    getBearerToken: () => '',
    getType: () => (provider().securityToken ? 'sts' : 'access_key'),
  };
  return adapter as unknown as Config['credential'];
}

function bufferStream(buffer: Buffer): OpenApiRequest['stream'] {
  // A one-chunk readable; the client reads it fully to hash it before sending.
  return Readable.from([buffer]) as OpenApiRequest['stream'];
}

// ---------------------------------------------------------------------------------------------
// Answers that are not the service's (a gateway's HTML page on a 5xx)
// ---------------------------------------------------------------------------------------------

/**
 * openapi-client parses every 4xx/5xx body as JSON (unless it is `text/xml`) and throws the bare
 * `SyntaxError` when it is not, losing the status and the request id. Node's own HTTP diagnostics
 * channels see the answer's status and headers; an AsyncLocalStorage slot ties them to the call
 * that is waiting, so concurrent calls never mix. Observation only: nothing in the request changes.
 */
interface AnswerSlot {
  status?: number;
  headers?: Record<string, unknown>;
}
const answers = new AsyncLocalStorage<AnswerSlot>();
const slotOf = new WeakMap<object, AnswerSlot>();
diagnostics.subscribe('http.client.request.start', (message) => {
  const slot = answers.getStore();
  const request = (message as { request?: object }).request;
  if (slot !== undefined && request !== undefined) slotOf.set(request, slot);
});
diagnostics.subscribe('http.client.response.finish', (message) => {
  const { request, response } = message as {
    request?: object;
    response?: { statusCode?: number; headers?: Record<string, unknown> };
  };
  const slot = request !== undefined ? slotOf.get(request) : undefined;
  if (slot === undefined || response === undefined) return;
  if (response.statusCode !== undefined) slot.status = response.statusCode;
  if (response.headers !== undefined) slot.headers = response.headers;
});

/** An error answer whose body the client could not read as the service's: code from the status. */
export class ForeignAnswerError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly data: { statusCode: number; headers: Record<string, unknown> };

  constructor(status: number, headers: Record<string, unknown>, options?: ErrorOptions) {
    super(`HTTP ${status} with a body that is not the service's answer`, options);
    this.name = 'ForeignAnswerError';
    this.code = httpStatusCode(status);
    this.statusCode = status;
    this.data = { statusCode: status, headers };
  }
}

async function withAnswerFacts<T>(call: () => Promise<T>): Promise<T> {
  const slot: AnswerSlot = {};
  try {
    return await answers.run(slot, call);
  } catch (error) {
    if (error instanceof SyntaxError && slot.status !== undefined && slot.status >= 400)
      throw new ForeignAnswerError(slot.status, slot.headers ?? {}, { cause: error });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Error classification
// ---------------------------------------------------------------------------------------------

/** What we read off whatever the client threw. */
export interface AlicloudErrorFacts {
  code?: string;
  status?: number;
  requestId?: string;
  message: string;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ESOCKETTIMEDOUT',
]);

const DENIED_CODES = [
  /^Forbidden/,
  /^NoPermission/,
  /^UserNotInTheWhiteList/,
  /^InvalidAccessKeyId/,
  /^InvalidSecurityToken/,
  /^SignatureDoesNotMatch/,
  /^IncompleteSignature/,
  /\.KMSUnauthorized$/,
];

const GONE_CODES = new Set(['ErrorClusterNotFound', 'ClusterNotFound', 'InvalidClusterId.NotFound']);

const TRANSIENT_CODES = new Set([
  'ServiceUnavailable',
  'InternalError',
  'InternalServerError',
  'ServiceTimeout',
  'UnknownError',
]);

/** Reads code, status and request id from an openapi-client / tea error, or a Node network error. */
export function errorFacts(error: unknown): AlicloudErrorFacts {
  const e = (error ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    name?: unknown;
    message?: unknown;
    data?: Record<string, unknown> | null;
  };
  const data = e.data && typeof e.data === 'object' ? e.data : undefined;
  // The client formats a missing code as the string "undefined".
  const rawCode =
    typeof e.code === 'string' ? e.code : typeof e.code === 'number' ? String(e.code) : undefined;
  const code = rawCode && rawCode !== 'undefined' && rawCode !== 'null' ? rawCode : undefined;
  const statusRaw = e.statusCode ?? data?.statusCode ?? data?.httpCode;
  const status =
    statusRaw !== undefined && Number.isFinite(Number(statusRaw)) ? Number(statusRaw) : undefined;
  const headers = (data?.headers ?? undefined) as Record<string, unknown> | undefined;
  const requestId = firstString(
    data?.RequestId,
    data?.requestId,
    data?.request_id,
    headers?.['x-acs-request-id'],
    headers?.['x-fc-request-id'],
  );
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  return {
    ...(code !== undefined ? { code } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
    message,
  };
}

/**
 * Maps an Alibaba Cloud OpenAPI error to the typed hierarchy. Order matters: an auth failure such
 * as `InvalidAccessKeyId.NotFound` is Denied, not Gone; a key error such as
 * `InvalidOperation.KMSKeyIdNotFound` (HTTP 403) is Invalid, not Denied.
 */
export function classifyAlicloud(error: unknown): RemediationError {
  if (isRemediationError(error)) return error;
  const facts = errorFacts(error);
  const { code, status, message } = facts;
  const context = (fallback: string) => ({
    code: code ?? fallback,
    ...(facts.requestId !== undefined ? { requestId: facts.requestId } : {}),
    ...(status !== undefined ? { status } : {}),
  });
  const options = { cause: error };

  if (code !== undefined && DENIED_CODES.some((p) => p.test(code)))
    return new DeniedError(message, context(code), options);
  if (code?.includes('Throttling') || status === 429)
    return new ThrottledError(message, context('Throttling'), options);
  if (code !== undefined && /^(InvalidParameter|InvalidOperation|MissingParameter)/.test(code))
    return new InvalidError(message, context(code), options);
  if (status === 404 || (code !== undefined && (GONE_CODES.has(code) || code.endsWith('.NotFound'))))
    return new GoneError(message, context('NotFound'), options);
  if ((status !== undefined && status >= 500) || (code !== undefined && TRANSIENT_CODES.has(code)))
    return new TransientError(message, context('ServiceUnavailable'), options);
  const network = networkCode(error);
  if (network !== undefined && status === undefined)
    return new TransientError(message, { code: network }, options);
  // A concurrent change is a conflict whatever status carries it (ECS answers some with 400/403).
  if (status === 409 || (code !== undefined && /Conflict|Concurrent|OperationAborted/i.test(code)))
    return new ConflictError(message, context('Conflict'), options);
  if (status === 401 || status === 403) return new DeniedError(message, context('Forbidden'), options);
  if (status !== undefined && status >= 400 && status < 500)
    return new InvalidError(message, context('InvalidRequest'), options);
  const e = error as { name?: unknown } | null;
  const name = typeof e?.name === 'string' && e.name !== 'Error' ? e.name : 'UnexpectedError';
  return new UnexpectedError(message, context(name), options);
}

/** Connection-level failures (reset, refused, DNS, timeouts) and unparseable answers. */
function networkCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; name?: unknown } | null;
  if (typeof e?.code === 'string' && (NETWORK_CODES.has(e.code) || e.code.startsWith('UND_ERR_')))
    return e.code;
  if (typeof e?.name === 'string' && e.name.includes('Timeout')) return 'RequestTimeout';
  // A proxy or gateway answering an error page in HTML: the client fails to parse it as JSON.
  if (error instanceof SyntaxError) return 'InvalidResponse';
  if (
    typeof (error as Error | null)?.message === 'string' &&
    /socket hang up/i.test((error as Error).message)
  )
    return 'ECONNRESET';
  return undefined;
}

function isRemediationError(error: unknown): error is RemediationError {
  return (
    error instanceof Error &&
    typeof (error as Partial<RemediationError>).retryable === 'boolean' &&
    typeof (error as Partial<RemediationError>).code === 'string'
  );
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
