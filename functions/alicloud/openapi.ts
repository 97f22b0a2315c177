/**
 * Signed calls to the ACS3-signed APIs the Alibaba Cloud functions call: ECS and KMS (RPC), ACK
 * and Function Compute 3.0 (ROA). Requests are built exactly as `@alicloud/openapi-client` 0.4.x
 * `doRequest` builds them (same headers, same body encodings) and signed by the official
 * `OpenApiUtil.getAuthorization` (ACS3-HMAC-SHA256); only the transport is ours (./http.ts).
 *
 * Why not the client's own transport: its `readTimeout` rejects the promise but keeps the socket
 * reading, and it buffers any body whole — a trickling answer holds a connection for ever and a
 * 300 MB answer costs a gigabyte. `send()` bounds the whole exchange (`readTimeoutMs`, body
 * included) and caps the body (1 MiB; 4 MiB for listings), both retryable network errors
 * (`RequestTimeout`, `ResponseTooLarge`). No retry here: the engine owns retry and the budget.
 * Endpoints come from `endpointFor()` (fixed host template or the override variable); credentials
 * are asked for on every request, so rotating STS credentials never go stale.
 *
 * `classifyAlicloud` maps what a call throws onto the typed hierarchy of #core/errors by the
 * service's error code and HTTP status, never by message: its rows in the client kit's table
 * classifier (service-errors.ts), beside SLS's and OSS Tables'.
 */
import { randomUUID } from 'node:crypto';
import { stringify } from 'node:querystring';
import OpenApiUtilModule from '@alicloud/openapi-util';
import type * as z from 'zod/mini';
import { httpStatusCode, RemediationError, UnexpectedResponseError } from '#core/errors';
import { formatIssues } from '#core/validation';
import { type AlicloudCredentials, type AlicloudService, type Endpoint, endpointFor } from './clients.ts';
import { DEFAULT_MAX_BODY_BYTES, LIST_MAX_BODY_BYTES, RETRYABLE_NETWORK, send } from './http.ts';
import {
  AlicloudServiceError,
  AlicloudTransportError,
  type ErrorRule,
  NO_STATUS,
  tableClassifier,
} from './service-errors.ts';

// CommonJS with `exports.default = Client`: Node's ESM loader hands us the exports object,
// bundlers that honour `__esModule` hand us the class. Accept both.
const OpenApiUtil: typeof OpenApiUtilModule =
  (OpenApiUtilModule as unknown as { default?: typeof OpenApiUtilModule }).default ?? OpenApiUtilModule;

const SIGNATURE_ALGORITHM = 'ACS3-HMAC-SHA256';

/** API versions of the products we call (each product's own, fixed by its SDK). */
export const API_VERSIONS = { CS: '2015-12-15', ECS: '2014-05-26', FC: '2023-03-30' } as const;

export interface AlicloudApiOptions {
  /** Asked before every request (FC's STS credentials rotate). Never logged. */
  credentials: () => AlicloudCredentials;
  env?: Record<string, string | undefined>;
  /** The account id: Function Compute's endpoint contains it. */
  account?: string;
  /** Deadline per request, connect to the last byte of the body. Default 10 000 ms. */
  readTimeoutMs?: number;
  /** Kept for callers of the earlier client; the deadline above already covers connecting. */
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

/**
 * An error answer (HTTP 4xx/5xx): the client kit's service error, also shaped as openapi-client's
 * (`statusCode`, `data`) so `errorFacts` reads both alike.
 */
export class AlicloudApiError extends AlicloudServiceError {
  override name = 'AlicloudApiError';
  readonly statusCode: number;
  constructor(
    code: string,
    message: string,
    readonly data: Record<string, unknown>,
    requestId?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, Number(data.statusCode), requestId, options);
    this.statusCode = this.status;
  }
}

/** No usable answer: Node's code (`ECONNRESET`, …), `RequestTimeout` or `ResponseTooLarge`. */
export class AlicloudNetworkError extends AlicloudTransportError {
  override name = 'AlicloudNetworkError';
}

interface Prepared {
  service: AlicloudService;
  region: string;
  action: string;
  version: string;
  method: string;
  pathname: string;
  query: Record<string, string>;
  headers?: Record<string, string>;
  body?: { bytes: Buffer; contentType: string };
  bodyType: 'json' | 'none';
}

/** Signed calls to Alibaba Cloud OpenAPI products. Cheap to create. */
export class AlicloudApi {
  private readonly endpoints = new Map<string, Endpoint>();
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
    const response = await this.call({
      service,
      region,
      action,
      version,
      method: 'POST',
      pathname: '/',
      query,
      bodyType: 'json',
    });
    return response as ApiResponse<Record<string, unknown>>;
  }

  /** A ROA call (REST path + JSON body, ACS3-signed). */
  async roa(service: RoaService, region: string, call: RoaCall): Promise<ApiResponse> {
    const body =
      call.raw !== undefined
        ? { bytes: call.raw, contentType: 'application/octet-stream' }
        : call.body !== undefined
          ? {
              bytes: Buffer.from(typeof call.body === 'string' ? call.body : JSON.stringify(call.body)),
              contentType: 'application/json; charset=utf-8',
            }
          : undefined;
    return this.call({
      service,
      region,
      action: call.action,
      version: API_VERSIONS[service],
      method: call.method,
      pathname: call.pathname,
      query: call.query ?? {},
      ...(call.headers ? { headers: call.headers } : {}),
      ...(body ? { body } : {}),
      bodyType: call.bodyType ?? 'json',
    });
  }

  private async call(p: Prepared): Promise<ApiResponse> {
    // Throws ConfigError for a malformed region or override URL before any request is built.
    const endpoint = this.endpoint(p.service, p.region);
    const payload = p.body?.bytes ?? Buffer.alloc(0);
    // Header set and order of openapi-client's doRequest (ACS3).
    const headers: Record<string, string> = {
      host: endpoint.host,
      'x-acs-version': p.version,
      'x-acs-action': p.action,
      'user-agent': 'atrest (+openapi)',
      'x-acs-date': OpenApiUtil.getTimestamp(),
      'x-acs-signature-nonce': randomUUID().replaceAll('-', ''),
      accept: 'application/json',
      ...p.headers,
    };
    if (p.body) headers['content-type'] = p.body.contentType;
    const hashed = OpenApiUtil.hexEncode(OpenApiUtil.hash(payload, SIGNATURE_ALGORITHM));
    headers['x-acs-content-sha256'] = hashed;
    const credentials = this.options.credentials();
    if (credentials.securityToken) {
      headers['x-acs-accesskey-id'] = credentials.accessKeyId;
      headers['x-acs-security-token'] = credentials.securityToken;
    }
    headers.Authorization = OpenApiUtil.getAuthorization(
      { pathname: p.pathname, method: p.method, query: p.query, headers } as never,
      SIGNATURE_ALGORITHM,
      hashed,
      credentials.accessKeyId,
      credentials.accessKeySecret,
    );
    if (p.body) headers['content-length'] = String(payload.length);
    const search = Object.keys(p.query).length > 0 ? `?${stringify(p.query)}` : '';
    const response = await send({
      protocol: endpoint.protocol,
      address: endpoint.host,
      method: p.method,
      path: `${p.pathname}${search}`,
      headers,
      ...(p.body ? { body: payload } : {}),
      timeoutMs: this.options.readTimeoutMs ?? 10_000,
      // Single resources and an invocation answer are a few KiB; listing pages may be larger.
      maxBodyBytes: /^(List|DescribeClusters)/.test(p.action) ? LIST_MAX_BODY_BYTES : DEFAULT_MAX_BODY_BYTES,
      networkError: (code, message, cause) =>
        new AlicloudNetworkError(code, `${p.action}: ${message}`, { cause }),
    });
    const responseHeaders = flatHeaders(response.headers);
    const text = response.body.toString('utf8');
    if (response.status >= 400) throw serviceError(p.action, response.status, text, responseHeaders);
    if (p.bodyType === 'none') return { statusCode: response.status, headers: responseHeaders, body: text };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    // An empty body, a proxy's HTML page, a bare value: no answer to read (retryable).
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      const requestId = responseHeaders['x-acs-request-id'];
      throw new UnexpectedResponseError(
        `${p.action}: answered HTTP ${response.status} with ${text === '' ? 'an empty body' : 'a body that is not a JSON object'}`,
        { status: response.status, ...(requestId !== undefined ? { requestId } : {}) },
      );
    }
    return { statusCode: response.status, headers: responseHeaders, body };
  }

  private endpoint(service: AlicloudService, region: string): Endpoint {
    const key = `${service}|${region}`;
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = endpointFor(service, region, this.env, this.options.account);
      this.endpoints.set(key, endpoint);
    }
    return endpoint;
  }
}

/**
 * The answer's body checked against what the caller reads. A success answer lacking it (`{}`, a
 * field of the wrong type) is an UnexpectedResponseError — retryable, code `UnexpectedResponse`,
 * with the request id — never a state.
 */
export function answerOf<T>(schema: z.ZodMiniType<T>, response: ApiResponse, action: string): T {
  const result = schema.safeParse(response.body);
  if (result.success) return result.data;
  const body = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as Record<
    string,
    unknown
  >;
  const requestId = firstString(body.RequestId, body.requestId, response.headers['x-acs-request-id']);
  throw new UnexpectedResponseError(
    `${action}: the answer lacks what the read needs (${formatIssues(result.error.issues, 'body').slice(0, 3).join('; ')})`,
    { status: response.statusCode, ...(requestId !== undefined ? { requestId } : {}) },
  );
}

export function createAlicloudApi(options: AlicloudApiOptions): AlicloudApi {
  return new AlicloudApi(options);
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/** The error answer as openapi-client reports it: `Code`/`Message`/`RequestId` from a JSON body. */
function serviceError(
  action: string,
  status: number,
  text: string,
  headers: Record<string, string>,
): AlicloudApiError {
  let err: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      err = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page): the status alone classifies it.
  }
  const code = err.Code ?? err.code;
  const message = err.Message ?? err.message;
  const requestId = err.RequestId ?? err.requestId ?? headers['x-acs-request-id'];
  // A body that is not the service's (a gateway's HTML page on a 5xx): the code from the status.
  return new AlicloudApiError(
    typeof code === 'string' && code !== '' ? code : httpStatusCode(status),
    `code: ${status}, ${typeof message === 'string' ? message : `${action} failed`} request id: ${String(requestId)}`,
    { ...err, statusCode: status, headers },
    typeof requestId === 'string' && requestId !== '' ? requestId : undefined,
  );
}

// ---------------------------------------------------------------------------------------------
// Error classification: the OpenAPI products' rows of the client kit's table (service-errors.ts)
// ---------------------------------------------------------------------------------------------

/** What we read off whatever the client threw. */
export interface AlicloudErrorFacts {
  code?: string;
  status?: number;
  requestId?: string;
  message: string;
}

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
const INVALID_CODES = /^(InvalidParameter|InvalidOperation|MissingParameter)/;
const GONE_CODES = new Set(['ErrorClusterNotFound', 'ClusterNotFound', 'InvalidClusterId.NotFound']);
const TRANSIENT_CODES = new Set([
  'ServiceUnavailable',
  'InternalError',
  'InternalServerError',
  'ServiceTimeout',
  'UnknownError',
]);
/** A concurrent change is a conflict whatever status carries it (ECS answers some with 400/403). */
const CONFLICT_CODES = /Conflict|Concurrent|OperationAborted/i;

/**
 * ECS, KMS, ACK, FC, STS, ActionTrail, EventBridge, ResourceManager — by the service's code, then
 * its status; first match wins. Order matters: an auth failure such as
 * `InvalidAccessKeyId.NotFound` is Denied, not Gone; a key error such as
 * `InvalidOperation.KMSKeyIdNotFound` (HTTP 403) is Invalid, not Denied.
 */
const OPENAPI_RULES: readonly ErrorRule[] = [
  { kind: 'denied', when: ({ code }) => DENIED_CODES.some((p) => p.test(code)) },
  { kind: 'throttled', when: ({ code, status }) => code.includes('Throttling') || status === 429 },
  { kind: 'invalid', when: ({ code }) => INVALID_CODES.test(code) },
  {
    kind: 'gone',
    when: ({ code, status }) => status === 404 || GONE_CODES.has(code) || code.endsWith('.NotFound'),
  },
  { kind: 'transient', when: ({ code, status }) => status >= 500 || TRANSIENT_CODES.has(code) },
  { kind: 'conflict', when: ({ code, status }) => status === 409 || CONFLICT_CODES.test(code) },
  { kind: 'denied', when: ({ status }) => status === 401 || status === 403 },
  { kind: 'invalid', when: ({ status }) => status >= 400 && status < 500 },
];

const classifyOpenApi = tableClassifier(AlicloudApiError, AlicloudNetworkError, OPENAPI_RULES);

/**
 * Node's and axios's transport codes (`ECONNRESET`, `EAI_AGAIN`, …) and our own (`RequestTimeout`,
 * `ResponseTooLarge`); services' codes are CamelCase.
 */
const TRANSPORT_CODE = /^E[A-Z0-9_]+$/;

/**
 * Errors another SDK built (the CLI's @alicloud/fc2 path; openapi-client-shaped errors) as this
 * client's own, so one table classifies both: a service answer keeps its code (else one derived
 * from the status), status and request id; a transport code becomes the network error.
 */
function asOwnError(error: unknown): unknown {
  if (error instanceof RemediationError || error instanceof AlicloudServiceError) return error;
  if (error instanceof AlicloudTransportError) return error;
  const facts = errorFacts(error);
  const { code, status } = facts;
  if (status === undefined) {
    // Neither a code nor a status: nothing a table can read (a TypeError, …).
    if (code === undefined) return error;
    if (TRANSPORT_CODE.test(code) || RETRYABLE_NETWORK.has(code))
      return new AlicloudNetworkError(code, facts.message, { cause: error });
  }
  const data = (error as { data?: unknown }).data;
  return new AlicloudApiError(
    code ?? httpStatusCode(status ?? NO_STATUS),
    facts.message,
    { ...(typeof data === 'object' && data !== null ? data : {}), statusCode: status ?? NO_STATUS },
    facts.requestId,
    { cause: error },
  );
}

/**
 * Maps what an OpenAPI call threw onto the typed hierarchy (#core/errors) through the client
 * kit's table classifier: the rules above for a service answer, the kit's one set of network
 * codes for a transport failure, its one "unknown → Unexpected" for anything else.
 */
export function classifyAlicloud(error: unknown): RemediationError {
  return classifyOpenApi(asOwnError(error));
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
