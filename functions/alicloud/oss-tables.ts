/**
 * A small OSS Tables client (there is no npm SDK for OSS Tables): GetTableBucketEncryption,
 * PutTableBucketEncryption and ListTableBuckets, signed with OSS4-HMAC-SHA256 as the official
 * Python SDK v2 signs them (`alibabacloud_oss_v2/signer/tables_v4.py`; product `osstables`).
 *
 * Where: path style on `https://<region>.oss-tables.aliyuncs.com` as the API reference shows, or
 * `ALIBABA_CLOUD_ENDPOINT_OSS_TABLES`. The bucket is addressed by its URL-encoded ARN in the path.
 */
import { createHash, createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import * as z from 'zod/mini';
import {
  ConflictError,
  DeniedError,
  GoneError,
  InvalidError,
  RemediationError,
  ThrottledError,
  TransientError,
  UnexpectedError,
  UnexpectedResponseError,
} from '#core/errors';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION } from '#core/validation';
import { type AlicloudCredentials, endpointFor } from './clients.ts';
import {
  classifyNetwork,
  DEFAULT_MAX_BODY_BYTES,
  LIST_MAX_BODY_BYTES,
  type RawResponse,
  send,
  unknownFailure,
} from './http.ts';

/** Table bucket names (CreateTableBucket): 3–32 chars, lowercase letters, digits, hyphens; no hyphen at either end. */
export const TABLE_BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/;

/** `acs:osstables:<region>:<account>:bucket/<name>`, each part pattern-checked. */
export function tableBucketArn(region: string, account: string, name: string): string {
  if (!ALICLOUD_REGION.test(region))
    throw new InvalidError(`invalid region ${JSON.stringify(region)}`, { code: 'InvalidRegion' });
  if (!ALICLOUD_ACCOUNT.test(account))
    throw new InvalidError(`invalid account ${JSON.stringify(account)}`, { code: 'InvalidAccount' });
  if (!TABLE_BUCKET_NAME.test(name))
    throw new InvalidError(`invalid table bucket name ${JSON.stringify(name)}`, {
      code: 'InvalidBucketName',
    });
  return `acs:osstables:${region}:${account}:bucket/${name}`;
}

/** Splits a table bucket ARN into checked parts, or undefined when it is not one. */
export function parseTableBucketArn(
  arn: string,
): { region: string; account: string; name: string } | undefined {
  const m = /^acs:osstables:([a-z0-9-]+):(\d+):bucket\/([a-z0-9-]+)$/.exec(arn);
  if (!m) return undefined;
  const [, region = '', account = '', name = ''] = m;
  if (!ALICLOUD_REGION.test(region) || !ALICLOUD_ACCOUNT.test(account) || !TABLE_BUCKET_NAME.test(name))
    return undefined;
  return { region, account, name };
}

// ---------------------------------------------------------------------------------------------
// OSS V4 signature (generic: product `oss` for OSS, `osstables` for OSS Tables)
// ---------------------------------------------------------------------------------------------

/** Python's `urllib.parse.quote(s, safe='')`: RFC 3986 unreserved characters stay, the rest is %XX. */
export function ossQuote(value: string, keepSlash = false): string {
  const encoded = encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? encoded.replaceAll('%2F', '/') : encoded;
}

export interface Oss4Request {
  method: string;
  /**
   * The unencoded resource path the signature covers. Plain OSS: `/<bucket>/<key>`. OSS Tables:
   * `/<bucket ARN>/<decoded request path>` (see tablesResourcePath).
   */
  resourcePath: string;
  /** Query parameters, unencoded; each name and value is quoted, then sorted. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Request headers; names are compared lower-cased. x-oss-*, content-type and content-md5 are signed. */
  headers: Readonly<Record<string, string>>;
}

export interface Oss4Signing {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
  region: string;
  /** `oss` or `osstables`. */
  product: string;
  date: Date;
}

export interface Oss4Signed {
  /** Headers to send: the input plus x-oss-date, x-oss-content-sha256, date, token, authorization. */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  authorization: string;
}

const iso8601 = (date: Date): string => `${date.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;

const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** Signs one request with OSS4-HMAC-SHA256 (header form, payload unsigned). */
export function signOss4(request: Oss4Request, signing: Oss4Signing): Oss4Signed {
  const stamp = iso8601(signing.date);
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    'x-oss-date': stamp,
    date: signing.date.toUTCString(),
    'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
  };
  if (signing.securityToken) headers['x-oss-security-token'] = signing.securityToken;

  const canonicalUri = ossQuote(request.resourcePath, true);
  const canonicalQuery = (request.query ?? [])
    .map(([k, v]) => [ossQuote(k), ossQuote(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak === bk ? compare(av, bv) : compare(ak, bk)))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join('&');
  const signed = Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => k.startsWith('x-oss-') || k === 'content-type' || k === 'content-md5')
    .sort(([a], [b]) => compare(a, b));
  const canonicalHeaders = signed.map(([k, v]) => `${k}:${v}\n`).join('');
  const canonicalRequest = [
    request.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    '', // additional headers: none
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const scope = `${day}/${signing.region}/${signing.product}/aliyun_v4_request`;
  const stringToSign = [
    'OSS4-HMAC-SHA256',
    stamp,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`aliyun_v4${signing.accessKeySecret}`, day), signing.region), signing.product),
    'aliyun_v4_request',
  );
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  const authorization = `OSS4-HMAC-SHA256 Credential=${signing.accessKeyId}/${scope},Signature=${signature}`;
  headers.authorization = authorization;
  return { headers, canonicalRequest, stringToSign, authorization };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The resource path OSS Tables signs: `/<bucket ARN>/<request path, decoded, without its leading
 * slash>`; a request without a bucket (ListTableBuckets) uses `acs:osstables:<region>::bucket/`
 * and an empty name, i.e. `/acs:osstables:<region>::bucket//buckets`.
 */
export function tablesResourcePath(region: string, requestKey: string, bucketArn?: string): string {
  const bucket = bucketArn ?? `acs:osstables:${region}::bucket/`;
  return `/${bucket}/${decodeURIComponent(requestKey)}`;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** An OSS Tables error answer. `code` is the body's code, else derived from the HTTP status. */
export class OssTablesServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId?: string,
    /** OSS's fine-grained error code (`x-oss-ec`), when sent. */
    readonly ec?: string,
  ) {
    super(message);
    this.name = 'OssTablesServiceError';
  }
}

export class OssTablesNetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'OssTablesNetworkError';
  }
}

/**
 * Codes that mean "the bucket has no encryption configuration" rather than "no bucket". The API
 * reference does not list GetTableBucketEncryption's errors; ossutil says an unconfigured bucket
 * returns an empty configuration. These are the S3-/OSS-style names we accept in case it is a 404.
 */
const NO_CONFIG = new Set([
  'NoSuchTableBucketEncryption',
  'NoSuchEncryptionConfiguration',
  'NoSuchServerSideEncryptionRule',
  'ServerSideEncryptionConfigurationNotFoundError',
]);
const GONE = new Set(['NoSuchBucket', 'NoSuchTableBucket', 'NotFoundException', 'NoSuchResource']);

/** A 404 from GetTableBucketEncryption that names no missing bucket: the bucket has no configuration. */
const isNoConfig = (error: OssTablesServiceError): boolean =>
  error.status === 404 && (NO_CONFIG.has(error.code) || !GONE.has(error.code));
const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'SecurityTokenExpired',
  'InvalidSecurityToken',
  'Forbidden',
  'ForbiddenException',
]);
const THROTTLED = new Set(['TooManyRequests', 'TooManyRequestsException', 'SlowDown', 'QpsLimitExceeded']);

export function classifyOssTablesError(error: unknown): RemediationError {
  if (error instanceof RemediationError) return error;
  if (error instanceof OssTablesNetworkError) return classifyNetwork(error);
  if (!(error instanceof OssTablesServiceError)) return unknownFailure(error);
  const { code, status } = error;
  const ctx = { code, status, ...(error.requestId !== undefined ? { requestId: error.requestId } : {}) };
  const opts = { cause: error };
  if (GONE.has(code) || status === 404) return new GoneError(error.message, ctx, opts);
  if (THROTTLED.has(code) || code.startsWith('Throttling') || status === 429)
    return new ThrottledError(error.message, ctx, opts);
  if (status >= 500) return new TransientError(error.message, ctx, opts);
  if (DENIED.has(code) || status === 401 || status === 403) return new DeniedError(error.message, ctx, opts);
  if (status === 409) return new ConflictError(error.message, ctx, opts);
  if (status === 400) return new InvalidError(error.message, ctx, opts);
  return new UnexpectedError(error.message, ctx, opts);
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

export interface TableBucketEncryption {
  /** `AES256` or `KMS`; absent when the bucket has no encryption configuration. */
  sseAlgorithm?: string;
  /** Empty or absent unless KMS. */
  kmsKeyArn?: string;
}

export interface TableBucketSummary {
  arn: string;
  name: string;
  ownerAccountId?: string;
}

export interface OssTablesClient {
  getTableBucketEncryption(bucketArn: string): Promise<TableBucketEncryption>;
  putTableBucketEncryption(
    bucketArn: string,
    encryption: Required<Pick<TableBucketEncryption, 'sseAlgorithm'>> & TableBucketEncryption,
  ): Promise<void>;
  listTableBuckets(page: { continuationToken?: string; maxBuckets?: number }): Promise<{
    tableBuckets: TableBucketSummary[];
    continuationToken?: string;
  }>;
}

export interface OssTablesClientOptions {
  region: string;
  credentials: () => AlicloudCredentials;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  now?: () => Date;
}

// The key must be there: `{"encryptionConfiguration":{}}` (or null) is "no configuration", as
// ossutil shows it; a body without the key at all (`{}`, empty) is no answer.
const EncryptionBody = z.looseObject({
  encryptionConfiguration: z.nullable(
    z.looseObject({
      sseAlgorithm: z.optional(z.nullable(z.string())),
      kmsKeyArn: z.optional(z.nullable(z.string())),
    }),
  ),
});
const ListBody = z.looseObject({
  continuationToken: z.optional(z.nullable(z.string())),
  tableBuckets: z.optional(
    z.nullable(
      z.array(
        z.looseObject({
          arn: z.string(),
          name: z.string(),
          ownerAccountId: z.optional(z.nullable(z.string())),
        }),
      ),
    ),
  ),
});

export function createOssTablesClient(options: OssTablesClientOptions): OssTablesClient {
  const env = options.env ?? process.env;
  const endpoint = endpointFor('OSS_TABLES', options.region, env);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? (() => new Date());

  async function call(
    action: string,
    method: 'GET' | 'PUT',
    key: string,
    bucketArn: string | undefined,
    query: Array<[string, string]>,
    body?: unknown,
  ): Promise<RawResponse> {
    const credentials = options.credentials();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const base: Record<string, string> = {
      host: endpoint.host,
      'user-agent': 'atrest (+oss-tables)',
      'content-type': 'application/json',
    };
    if (payload) {
      base['content-md5'] = createHash('md5').update(payload).digest('base64');
      base['content-length'] = String(payload.length);
    }
    const signed = signOss4(
      { method, resourcePath: tablesResourcePath(options.region, key, bucketArn), query, headers: base },
      {
        accessKeyId: credentials.accessKeyId,
        accessKeySecret: credentials.accessKeySecret,
        ...(credentials.securityToken ? { securityToken: credentials.securityToken } : {}),
        region: options.region,
        product: 'osstables',
        date: now(),
      },
    );
    const search =
      query.length === 0 ? '' : `?${query.map(([k, v]) => `${ossQuote(k)}=${ossQuote(v)}`).join('&')}`;
    const response = await send({
      protocol: endpoint.protocol,
      address: endpoint.host,
      method,
      path: `/${key}${search}`,
      headers: signed.headers,
      ...(payload !== undefined ? { body: payload } : {}),
      timeoutMs,
      // A bucket's encryption is a few hundred bytes; a ListTableBuckets page (at most 1,000
      // buckets of ~300 bytes each) stays well under 4 MiB.
      maxBodyBytes: action === 'ListTableBuckets' ? LIST_MAX_BODY_BYTES : DEFAULT_MAX_BODY_BYTES,
      networkError: (code, message, cause) =>
        new OssTablesNetworkError(code, `OSS Tables ${message}`, { cause }),
    });
    if (response.status >= 300) throw toServiceError(action, response);
    return response;
  }

  const requestContext = (response: RawResponse) => {
    const id = response.headers['x-oss-request-id'];
    return { status: response.status, ...(typeof id === 'string' ? { requestId: id } : {}) };
  };

  const json = (body: Buffer): unknown => {
    if (body.length === 0) return {};
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return undefined;
    }
  };

  return {
    async getTableBucketEncryption(bucketArn) {
      if (!parseTableBucketArn(bucketArn))
        throw new InvalidError(`invalid table bucket ARN ${JSON.stringify(bucketArn)}`, {
          code: 'InvalidBucketArn',
        });
      let response: RawResponse;
      try {
        response = await call(
          'GetTableBucketEncryption',
          'GET',
          `buckets/${ossQuote(bucketArn)}/encryption`,
          bucketArn,
          [],
        );
      } catch (error) {
        // "No configuration" is a state, not a failure. A 404 without any code is ambiguous
        // (no bucket, or no config): treat it as no config; the following Put then answers
        // NoSuchBucket if the bucket really is gone, which ends as `gone`.
        if (error instanceof OssTablesServiceError && isNoConfig(error)) return {};
        throw error;
      }
      const result = EncryptionBody.safeParse(json(response.body));
      if (!result.success)
        throw new UnexpectedResponseError(
          'GetTableBucketEncryption: the answer carries no encryptionConfiguration',
          requestContext(response),
        );
      const conf = result.data.encryptionConfiguration;
      return {
        ...(conf?.sseAlgorithm ? { sseAlgorithm: conf.sseAlgorithm } : {}),
        ...(conf?.kmsKeyArn ? { kmsKeyArn: conf.kmsKeyArn } : {}),
      };
    },

    async putTableBucketEncryption(bucketArn, encryption) {
      if (!parseTableBucketArn(bucketArn))
        throw new InvalidError(`invalid table bucket ARN ${JSON.stringify(bucketArn)}`, {
          code: 'InvalidBucketArn',
        });
      // A Put replaces the whole configuration; only tables created afterwards inherit it.
      await call(
        'PutTableBucketEncryption',
        'PUT',
        `buckets/${ossQuote(bucketArn)}/encryption`,
        bucketArn,
        [],
        {
          encryptionConfiguration: {
            sseAlgorithm: encryption.sseAlgorithm,
            ...(encryption.kmsKeyArn ? { kmsKeyArn: encryption.kmsKeyArn } : {}),
          },
        },
      );
    },

    async listTableBuckets(page) {
      const query: Array<[string, string]> = [];
      if (page.continuationToken) query.push(['continuationToken', page.continuationToken]);
      if (page.maxBuckets !== undefined) query.push(['maxBuckets', String(page.maxBuckets)]);
      const response = await call('ListTableBuckets', 'GET', 'buckets', undefined, query);
      const result = ListBody.safeParse(json(response.body));
      if (!result.success)
        throw new UnexpectedResponseError(
          'ListTableBuckets: the answer is not a page of table buckets',
          requestContext(response),
        );
      return {
        tableBuckets: (result.data.tableBuckets ?? []).map((b) => ({
          arn: b.arn,
          name: b.name,
          ...(b.ownerAccountId ? { ownerAccountId: b.ownerAccountId } : {}),
        })),
        ...(result.data.continuationToken ? { continuationToken: result.data.continuationToken } : {}),
      };
    },
  };
}

/**
 * Error bodies: the Go SDK v2's Tables tests show JSON `{"message": …}` with the code carried only
 * by the HTTP status and `x-oss-ec`; classic OSS answers XML `<Error><Code>…`. Accept both, and a
 * JSON `code`, and fall back to the status text (`NotFound`, `Forbidden`, …) as the code.
 */
function toServiceError(action: string, response: RawResponse): OssTablesServiceError {
  const text = response.body.toString('utf8');
  const header = (name: string): string | undefined => {
    const v = response.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  let code: string | undefined;
  let message: string | undefined;
  let requestId = header('x-oss-request-id');
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const str = (...names: string[]) =>
      names.map((n) => body[n]).find((v): v is string => typeof v === 'string' && v !== '');
    code = str('code', 'Code', 'errorCode', '__type');
    message = str('message', 'Message', 'errorMessage');
    requestId = str('requestId', 'RequestId') ?? requestId;
  } catch {
    const tag = (name: string) => new RegExp(`<${name}>([^<]{1,512})</${name}>`).exec(text)?.[1];
    code = tag('Code');
    message = tag('Message');
    requestId = tag('RequestId') ?? requestId;
  }
  const statusText = (STATUS_CODES[response.status] ?? `HTTP${response.status}`).replace(/[^A-Za-z0-9]/g, '');
  return new OssTablesServiceError(
    code ?? statusText,
    `${action}: ${message ?? `HTTP ${response.status}`}`,
    response.status,
    requestId,
    header('x-oss-ec'),
  );
}
