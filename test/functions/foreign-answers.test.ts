/**
 * A 5xx whose body is not the service's (a gateway's or load balancer's HTML page) must surface
 * with a code taken from the HTTP status and the request id header — never `SyntaxError` — on every
 * client atrest uses: SLS, OSS Tables, the openapi-client layer (ACK/ECS/FC/KMS) and the AWS SDK.
 * A loopback server plays the gateway; the real clients talk to it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeniedError, TransientError } from '#core/errors';
import { classifyAlicloud, createAlicloudApi } from '../../functions/alicloud/openapi.ts';
import {
  classifyOssTablesError,
  createOssTablesClient,
  tableBucketArn,
} from '../../functions/alicloud/oss-tables.ts';
import { classifySlsError, createSlsClient } from '../../functions/alicloud/sls.ts';
import { classifyAwsError } from '../../functions/aws/errors.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';

let server: Server;
let url: string;
let answer: { status: number; headers: Record<string, string>; body: string };

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': 'text/html', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  answer = {
    status: 503,
    headers: {},
    body: '<html><body>503 Service Temporarily Unavailable</body></html>',
  };
});

const caught = async (call: () => Promise<unknown>): Promise<unknown> => {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('the call was expected to fail');
};

describe('a gateway HTML page instead of the service answer', () => {
  it('SLS: ServiceUnavailable with x-log-requestid, retryable', async () => {
    answer.headers = { 'x-log-requestid': 'SLS-RID-1' };
    const client = createSlsClient({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: url },
    });

    const error = classifySlsError(await caught(() => client.getLogStore('app-logs', 'access-log')));

    expect(error).toBeInstanceOf(TransientError);
    expect({ code: error.code, requestId: error.requestId, status: error.status }).toEqual({
      code: 'ServiceUnavailable',
      requestId: 'SLS-RID-1',
      status: 503,
    });
  });

  it('OSS Tables: BadGateway with x-oss-request-id', async () => {
    answer = { status: 502, headers: { 'x-oss-request-id': 'OSS-RID-1' }, body: '<html>Bad Gateway</html>' };
    const client = createOssTablesClient({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: url },
    });
    const arn = tableBucketArn('cn-hangzhou', '1234567890123456', 'tb1');

    const error = classifyOssTablesError(await caught(() => client.getTableBucketEncryption(arn)));

    expect(error).toBeInstanceOf(TransientError);
    expect({ code: error.code, requestId: error.requestId }).toEqual({
      code: 'BadGateway',
      requestId: 'OSS-RID-1',
    });
  });

  it('openapi-client (ACK ROA): ServiceUnavailable with x-acs-request-id, not SyntaxError', async () => {
    answer.headers = { 'x-acs-request-id': 'ACS-RID-1' };
    const api = createAlicloudApi({
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_CS: url },
    });

    const raw = await caught(() =>
      api.roa('CS', 'cn-hangzhou', {
        action: 'DescribeClusterDetail',
        method: 'GET',
        pathname: '/clusters/c1',
      }),
    );
    const error = classifyAlicloud(raw);

    expect(raw).not.toBeInstanceOf(SyntaxError);
    expect(error).toBeInstanceOf(TransientError);
    expect({ code: error.code, requestId: error.requestId, status: error.status }).toEqual({
      code: 'ServiceUnavailable',
      requestId: 'ACS-RID-1',
      status: 503,
    });
  });

  it('openapi-client (ECS RPC): a 403 HTML page is Forbidden, not a network failure', async () => {
    answer = {
      status: 403,
      headers: { 'x-acs-request-id': 'ACS-RID-2' },
      body: '<html>denied by WAF</html>',
    };
    const api = createAlicloudApi({
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_ECS: url },
    });

    const error = classifyAlicloud(
      await caught(() => api.rpc('ECS', 'cn-hangzhou', 'DescribeDiskDefaultKMSKeyId', '2014-05-26', {})),
    );

    expect(error).toBeInstanceOf(DeniedError);
    expect({ code: error.code, requestId: error.requestId }).toEqual({
      code: 'Forbidden',
      requestId: 'ACS-RID-2',
    });
  });

  it('AWS SDK: ServiceUnavailable with the x-amzn-requestid, not SyntaxError', async () => {
    answer.headers = { 'x-amzn-requestid': 'AWS-RID-1' };
    const client = new CloudWatchLogsClient({
      region: 'us-east-1',
      endpoint: url,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });

    const error = classifyAwsError(await caught(() => client.send(new DescribeLogGroupsCommand({}))));

    expect(error).toBeInstanceOf(TransientError);
    expect({ code: error.code, requestId: error.requestId, status: error.status }).toEqual({
      code: 'ServiceUnavailable',
      requestId: 'AWS-RID-1',
      status: 503,
    });
  });
});
