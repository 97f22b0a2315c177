import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  DeniedError,
  GoneError,
  InvalidError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import {
  classifyOssTablesError,
  createOssTablesClient,
  OssTablesNetworkError,
  OssTablesServiceError,
  ossQuote,
  parseTableBucketArn,
  signOss4,
  TABLE_BUCKET_NAME,
  tableBucketArn,
  tablesResourcePath,
} from '../../../functions/alicloud/oss-tables.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type OssTablesEmulator, startOssTables } from '../../emulator/oss-tables.ts';

// The official OSS V4 vectors: aliyun/alibabacloud-oss-python-sdk-v2 tests/unit/signer/test_v4.py
// (test_auth_header, test_auth_header_with_token). Key `1234+-/123/1.txt` in bucket `bucket`.
const VECTOR_QUERY = [
  ['param1', 'value1'],
  ['+param1', 'value3'],
  ['|param1', 'value4'],
  ['+param2', ''],
  ['|param2', ''],
  ['param2', ''],
] as const;
const VECTOR_HEADERS = {
  'x-oss-head1': 'value',
  abc: 'value',
  ZAbc: 'value',
  XYZ: 'value',
  'content-type': 'text/plain',
  'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
};

describe('OSS4-HMAC-SHA256 signer', () => {
  it('reproduces the official V4 header vector', () => {
    // Act
    const signed = signOss4(
      {
        method: 'PUT',
        resourcePath: '/bucket/1234+-/123/1.txt',
        query: VECTOR_QUERY,
        headers: VECTOR_HEADERS,
      },
      {
        accessKeyId: 'ak',
        accessKeySecret: 'sk',
        region: 'cn-hangzhou',
        product: 'oss',
        date: new Date(1702743657 * 1000),
      },
    );

    // Assess
    expect(signed.authorization).toBe(
      'OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe',
    );
    expect(signed.headers['x-oss-date']).toBe('20231216T162057Z');
    expect(signed.canonicalRequest.split('\n')[1]).toBe('/bucket/1234%2B-/123/1.txt');
  });

  it('reproduces the official V4 vector with an STS token', () => {
    // Act
    const signed = signOss4(
      {
        method: 'PUT',
        resourcePath: '/bucket/1234+-/123/1.txt',
        query: VECTOR_QUERY,
        headers: VECTOR_HEADERS,
      },
      {
        accessKeyId: 'ak',
        accessKeySecret: 'sk',
        securityToken: 'token',
        region: 'cn-hangzhou',
        product: 'oss',
        date: new Date(1702784856 * 1000),
      },
    );

    // Assess
    expect(signed.authorization).toBe(
      'OSS4-HMAC-SHA256 Credential=ak/20231217/cn-hangzhou/oss/aliyun_v4_request,Signature=b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea',
    );
    expect(signed.headers['x-oss-security-token']).toBe('token');
  });

  it('uses the Tables resource path: bucket ARN, then the decoded request path', () => {
    const arn = 'acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1';
    expect(tablesResourcePath('cn-hangzhou', `buckets/${ossQuote(arn)}/encryption`, arn)).toBe(
      `/${arn}/buckets/${arn}/encryption`,
    );
    expect(tablesResourcePath('cn-hangzhou', 'buckets')).toBe('/acs:osstables:cn-hangzhou::bucket//buckets');
    expect(ossQuote(`/${arn}`, true)).toBe('/acs%3Aosstables%3Acn-hangzhou%3A1234567890123456%3Abucket/tb1');
  });

  it("quotes like Python's urllib.parse.quote", () => {
    expect(ossQuote("a b!'()*~._-/")).toBe('a%20b%21%27%28%29%2A~._-%2F');
  });
});

describe('table bucket names and ARNs', () => {
  it.each(['abc', 'analytics-tables', 'a'.repeat(32)])('accepts %s', (name) => {
    expect(TABLE_BUCKET_NAME.test(name)).toBe(true);
  });
  it.each(['ab', '-abc', 'abc-', 'ABC', 'a_b', 'a'.repeat(33), 'a/b', 'a.b'])('rejects %s', (name) => {
    expect(TABLE_BUCKET_NAME.test(name)).toBe(false);
  });

  it('builds and parses ARNs from checked parts only', () => {
    expect(tableBucketArn('cn-hangzhou', '1234567890123456', 'tb1')).toBe(
      'acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1',
    );
    expect(() => tableBucketArn('cn-hangzhou', '1234567890123456', 'x/../y')).toThrow(InvalidError);
    expect(() => tableBucketArn('evil.com/', '1234567890123456', 'tb1')).toThrow(InvalidError);
    expect(parseTableBucketArn('acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1')).toEqual({
      region: 'cn-hangzhou',
      account: '1234567890123456',
      name: 'tb1',
    });
    expect(parseTableBucketArn('acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1/x')).toBeUndefined();
    expect(parseTableBucketArn('acs:oss:cn-hangzhou:1234567890123456:bucket/tb1')).toBeUndefined();
  });
});

describe('classifyOssTablesError', () => {
  it.each([
    ['NoSuchBucket', 404, GoneError],
    ['NotFound', 404, GoneError],
    ['AccessDenied', 403, DeniedError],
    ['SignatureDoesNotMatch', 403, DeniedError],
    ['InvalidArgument', 400, InvalidError],
    ['TooManyRequests', 429, ThrottledError],
    ['Throttling.Api', 400, ThrottledError],
    ['InternalError', 500, TransientError],
    ['ServiceUnavailable', 503, TransientError],
    ['Conflict', 409, ConflictError],
    ['Teapot', 418, UnexpectedError],
  ] as const)('%s (HTTP %i) is %s', (code, status, type) => {
    const error = classifyOssTablesError(new OssTablesServiceError(code, 'x', status, 'rid-9'));
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ code, requestId: 'rid-9' });
  });

  it('treats resets as transient', () => {
    expect(classifyOssTablesError(new OssTablesNetworkError('ECONNRESET', 'reset'))).toBeInstanceOf(
      TransientError,
    );
  });
});

describe('OSS Tables client against the emulator', () => {
  let oss: OssTablesEmulator;
  const arn = 'acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1';
  const client = (credentials = EMULATOR_CREDENTIALS) =>
    createOssTablesClient({
      region: 'cn-hangzhou',
      credentials: () => credentials,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: oss.url },
    });

  beforeAll(async () => {
    oss = await startOssTables();
  });
  afterAll(async () => {
    await oss.stop();
  });
  beforeEach(() => {
    oss.state.buckets.clear();
    oss.service.resetLog();
    oss.service.clearFaults();
  });

  it('reads an empty configuration as "no encryption"', async () => {
    oss.state.seedBucket('tb1');
    expect(await client().getTableBucketEncryption(arn)).toEqual({});
  });

  it('writes and reads back the encryption configuration', async () => {
    // Prepare
    oss.state.seedBucket('tb1');

    // Act
    await client().putTableBucketEncryption(arn, { sseAlgorithm: 'AES256' });
    const read = await client().getTableBucketEncryption(arn);

    // Assess
    expect(read).toEqual({ sseAlgorithm: 'AES256' });
    expect(oss.state.bucket(arn)?.encryption).toEqual({ sseAlgorithm: 'AES256' });
  });

  it('reports a missing bucket as NoSuchBucket with the request id', async () => {
    const error = await client()
      .getTableBucketEncryption(arn)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OssTablesServiceError);
    expect(error).toMatchObject({ code: 'NoSuchBucket', status: 404, ec: '0016-00000000' });
    expect((error as OssTablesServiceError).requestId).toMatch(/^emu-/);
  });

  it('maps an error body without a code to the HTTP status name', async () => {
    // Prepare: a 503 whose body carries no code
    oss.state.seedBucket('tb1');
    oss.service.failNext('PutTableBucketEncryption', { status: 503, code: '', times: 1 });

    // Act
    const error = await client()
      .putTableBucketEncryption(arn, { sseAlgorithm: 'AES256' })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'ServiceUnavailable', status: 503 });
  });

  it('is refused with SignatureDoesNotMatch when the secret is wrong', async () => {
    oss.state.seedBucket('tb1');
    const error = await client({ ...EMULATOR_CREDENTIALS, accessKeySecret: 'wrong' })
      .getTableBucketEncryption(arn)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
  });

  it('pages through ListTableBuckets with continuation tokens', async () => {
    // Prepare
    for (const name of ['tb-a', 'tb-b', 'tb-c']) oss.state.seedBucket(name);

    // Act
    const first = await client().listTableBuckets({ maxBuckets: 2 });
    const second = await client().listTableBuckets({
      maxBuckets: 2,
      ...(first.continuationToken ? { continuationToken: first.continuationToken } : {}),
    });

    // Assess
    expect(first.tableBuckets.map((b) => b.name)).toEqual(['tb-a', 'tb-b']);
    expect(first.continuationToken).toBeDefined();
    expect(second.tableBuckets.map((b) => b.name)).toEqual(['tb-c']);
    expect(second.continuationToken).toBeUndefined();
  });

  it('treats a 404 "no configuration" answer as no encryption, not as gone', async () => {
    // Prepare
    const strict = await startOssTables({ missingEncryption: 'notFound' });
    strict.state.seedBucket('tb1');
    const c = createOssTablesClient({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: strict.url },
    });
    try {
      // Act
      const read = await c.getTableBucketEncryption(arn);

      // Assess
      expect(read).toEqual({});
      expect(strict.service.count({ action: 'GetTableBucketEncryption', ok: false })).toBe(1);
    } finally {
      await strict.stop();
    }
  });
});
