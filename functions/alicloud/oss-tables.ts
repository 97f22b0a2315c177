/**
 * A small OSS Tables client (there is no npm SDK for OSS Tables): GetTableBucketEncryption,
 * PutTableBucketEncryption and ListTableBuckets, signed with OSS4-HMAC-SHA256 as the official
 * Python SDK v2 signs them (`alibabacloud_oss_v2/signer/tables_v4.py`; product `osstables`).
 *
 * Where: path style on `https://<region>.oss-tables.aliyuncs.com` as the API reference shows, or
 * `ALIBABA_CLOUD_ENDPOINT_OSS_TABLES`. The bucket is addressed by its URL-encoded ARN in the path.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { InvalidError, UnexpectedResponseError } from '#core/errors';
import { once } from '#core/once';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION } from '#core/validation';
import { type AlicloudCredentials, endpointFor } from './clients.ts';
import { DEFAULT_MAX_BODY_BYTES, LIST_MAX_BODY_BYTES, type RawResponse, send } from './http.ts';
import { ossQuote, parseOssError, signOss4 } from './oss4.ts';
import {
  AlicloudServiceError,
  AlicloudTransportError,
  type ErrorRule,
  tableClassifier,
} from './service-errors.ts';

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

// The OSS V4 signer and OSS error bodies live in oss4.ts (OSS Tables is one user).
export { ossQuote, signOss4 } from './oss4.ts';

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
export class OssTablesServiceError extends AlicloudServiceError {
  override name = 'OssTablesServiceError';
  constructor(
    code: string,
    message: string,
    status: number,
    requestId?: string,
    /** OSS's fine-grained error code (`x-oss-ec`), when sent. */
    readonly ec?: string,
  ) {
    super(code, message, status, requestId);
  }
}

export class OssTablesNetworkError extends AlicloudTransportError {
  override name = 'OssTablesNetworkError';
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

/** OSS Tables' codes and statuses, in order: the first matching row classifies. */
const OSS_TABLES_RULES: readonly ErrorRule[] = [
  { kind: 'gone', when: ({ code, status }) => GONE.has(code) || status === 404 },
  {
    kind: 'throttled',
    when: ({ code, status }) => THROTTLED.has(code) || code.startsWith('Throttling') || status === 429,
  },
  { kind: 'transient', when: ({ status }) => status >= 500 },
  { kind: 'denied', when: ({ code, status }) => DENIED.has(code) || status === 401 || status === 403 },
  { kind: 'conflict', when: ({ status }) => status === 409 },
  { kind: 'invalid', when: ({ status }) => status === 400 },
];

/** Maps anything the OSS Tables client threw onto the core error classes (service-errors.ts). */
export const classifyOssTablesError = tableClassifier(
  OssTablesServiceError,
  OssTablesNetworkError,
  OSS_TABLES_RULES,
);

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
const EncryptionBody = once(() =>
  z.looseObject({
    encryptionConfiguration: z.nullable(
      z.looseObject({
        sseAlgorithm: z.optional(z.nullable(z.string())),
        kmsKeyArn: z.optional(z.nullable(z.string())),
      }),
    ),
  }),
);
const ListBody = once(() =>
  z.looseObject({
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
  }),
);

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
      const result = EncryptionBody().safeParse(json(response.body));
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
      const result = ListBody().safeParse(json(response.body));
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

/** An error answer as an OssTablesServiceError; the body's forms are read by oss4.ts. */
function toServiceError(action: string, response: RawResponse): OssTablesServiceError {
  const { code, message, requestId, ec } = parseOssError(response);
  return new OssTablesServiceError(
    code,
    `${action}: ${message ?? `HTTP ${response.status}`}`,
    response.status,
    requestId,
    ec,
  );
}
