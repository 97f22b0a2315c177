import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createOssTablesClient,
  ossQuote,
  signOss4,
  tablesResourcePath,
} from '../../functions/alicloud/oss-tables.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type OssTablesEmulator, startOssTables } from './oss-tables.ts';

describe('OSS Tables emulator', () => {
  let oss: OssTablesEmulator;
  const arn = 'acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1';
  const path = `/buckets/${ossQuote(arn)}/encryption`;

  /** A hand-signed request, so single parts can be broken on purpose. */
  const send = (
    method: string,
    options: { body?: string; region?: string; product?: string; tamper?: Record<string, string> } = {},
  ) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const signed = signOss4(
      {
        method,
        resourcePath: tablesResourcePath('cn-hangzhou', path.slice(1), arn),
        headers: { 'content-type': 'application/json' },
      },
      {
        accessKeyId: EMULATOR_CREDENTIALS.accessKeyId,
        accessKeySecret: EMULATOR_CREDENTIALS.accessKeySecret,
        region: options.region ?? 'cn-hangzhou',
        product: options.product ?? 'osstables',
        date: new Date(),
      },
    );
    const url = new URL(oss.url);
    const headers = { ...signed.headers, ...options.tamper };
    return new Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }>(
      (resolve, reject) => {
        const req = request(
          { hostname: url.hostname, port: Number(url.port), path, method, headers },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => {
              text += c.toString();
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                json: text ? JSON.parse(text) : {},
                headers: res.headers,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
  };

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
    oss.state.seedBucket('tb1');
  });

  it('accepts the documented path with the Tables canonical URI', async () => {
    // Act
    const answer = await send('GET');

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ encryptionConfiguration: {} });
    expect(answer.headers['x-oss-request-id']).toMatch(/^emu-/);
    expect(oss.service.calls).toEqual([
      expect.objectContaining({
        action: 'GetTableBucketEncryption',
        resource: arn,
        write: false,
        status: 200,
      }),
    ]);
  });

  it('rejects a signature with the wrong product or region in its scope', async () => {
    // Act
    const product = await send('GET', { product: 'oss' });
    const region = await send('GET', { region: 'cn-beijing' });

    // Assess
    expect(product).toMatchObject({ status: 403, json: { code: 'SignatureDoesNotMatch' } });
    expect(region).toMatchObject({ status: 403, json: { code: 'SignatureDoesNotMatch' } });
  });

  it('rejects a signed header changed after signing', async () => {
    const answer = await send('GET', { tamper: { 'content-type': 'text/plain' } });
    expect(answer).toMatchObject({ status: 403, json: { code: 'SignatureDoesNotMatch' } });
  });

  it('rejects a Content-MD5 that does not match the body', async () => {
    const answer = await send('PUT', {
      body: '{"encryptionConfiguration":{"sseAlgorithm":"AES256"}}',
      tamper: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' },
    });
    expect(answer).toMatchObject({ status: 400, json: { code: 'InvalidDigest' } });
  });

  it('validates the encryption body', async () => {
    // Prepare
    const client = createOssTablesClient({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: oss.url },
    });

    // Act
    const bad = await client.putTableBucketEncryption(arn, { sseAlgorithm: 'DES' }).catch((e: unknown) => e);
    const kmsWithoutKey = await client
      .putTableBucketEncryption(arn, { sseAlgorithm: 'KMS' })
      .catch((e: unknown) => e);

    // Assess
    expect(bad).toMatchObject({ code: 'InvalidArgument', status: 400 });
    expect(kmsWithoutKey).toMatchObject({ code: 'InvalidArgument', status: 400 });
    expect(oss.state.bucket(arn)?.encryption).toBeUndefined();
  });

  it('answers NoSuchBucket for a bucket it does not hold', async () => {
    oss.state.deleteBucket(arn);
    const answer = await send('GET');
    expect(answer).toMatchObject({ status: 404, json: { code: 'NoSuchBucket' } });
    expect(answer.headers['x-oss-ec']).toBeDefined();
  });
});
