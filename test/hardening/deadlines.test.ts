/**
 * Every network call has a deadline on the whole exchange and a cap on the body. Each client atrest
 * builds (SLS, OSS Tables, the ACS3 OpenAPI client for ECS/ACK/FC, the AWS SDK clients) meets the
 * hostile loopback servers of ./hostile.ts: a body that trickles after the headers, a stall after
 * the headers, and a 300 MB body. Each must end in a retryable error with a clear code —
 * `RequestTimeout` or `ResponseTooLarge` — that the engine retries inside its budget; the huge body
 * must be cut off near the cap, not read whole.
 */
import { DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type RemediationError, TransientError } from '#core/errors';
import { API_VERSIONS, classifyAlicloud, createAlicloudApi } from '../../functions/alicloud/openapi.ts';
import { classifyOssTablesError, createOssTablesClient } from '../../functions/alicloud/oss-tables.ts';
import { classifySlsError, createSlsClient } from '../../functions/alicloud/sls.ts';
import { classifyOtsError, TablestoreIdempotencyStore } from '../../functions/alicloud/tablestore.ts';
import { logsClient } from '../../functions/aws/clients.ts';
import { classifyAwsError } from '../../functions/aws/errors.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { DUMMY_CREDENTIALS } from '../emulator/sigv4.ts';
import { type HostileMode, type HostileServer, startHostile } from './hostile.ts';

/** Short enough that a test waiting for it is quick; a trickle or stall never ends by itself. */
const DEADLINE_MS = 400;
/** Long enough that 300 MB over loopback arrives well before it: the cap, not the clock, must stop it. */
const LONG_DEADLINE_MS = 20_000;
/** Kernel and stream buffers let some bytes past the cap out of the server; far less than the body. */
const SENT_BOUND = 64 * 1024 * 1024;

const aliCredentials = () => EMULATOR_CREDENTIALS;

interface Client {
  name: string;
  /** One read through the production client, pointed at `url`, with `deadlineMs`. */
  read(url: string, deadlineMs: number): Promise<unknown>;
  classify(error: unknown): RemediationError;
}

let awsClients = 0;
const clients: Client[] = [
  {
    name: 'SLS GetLogStore',
    read: (url, timeoutMs) =>
      createSlsClient({
        region: 'cn-hangzhou',
        credentials: aliCredentials,
        env: { ALIBABA_CLOUD_ENDPOINT_SLS: url },
        timeoutMs,
      }).getLogStore('app-logs', 'access-log'),
    classify: classifySlsError,
  },
  {
    name: 'OSS Tables GetTableBucketEncryption',
    read: (url, timeoutMs) =>
      createOssTablesClient({
        region: 'cn-hangzhou',
        credentials: aliCredentials,
        env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: url },
        timeoutMs,
      }).getTableBucketEncryption('acs:osstables:cn-hangzhou:1234567890123456:bucket/tb1'),
    classify: classifyOssTablesError,
  },
  {
    name: 'ECS DescribeDiskDefaultKMSKeyId (ACS3 OpenAPI)',
    read: (url, timeoutMs) =>
      createAlicloudApi({
        credentials: aliCredentials,
        env: { ALIBABA_CLOUD_ENDPOINT_ECS: url },
        readTimeoutMs: timeoutMs,
      }).rpc('ECS', 'cn-hangzhou', 'DescribeDiskDefaultKMSKeyId', API_VERSIONS.ECS, {
        RegionId: 'cn-hangzhou',
      }),
    classify: classifyAlicloud,
  },
  {
    name: 'CloudWatch Logs DescribeLogGroups (AWS SDK)',
    read: (url, requestTimeoutMs) => {
      vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
      vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', url);
      // logsClient caches per (region, limits): a fresh connection timeout gives a fresh client.
      awsClients++;
      return logsClient('us-east-1', { requestTimeoutMs, connectionTimeoutMs: 3_000 + awsClients }).send(
        new DescribeLogGroupsCommand({ logGroupNamePrefix: '/app' }),
      );
    },
    classify: classifyAwsError,
  },
];

let server: HostileServer | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.stop();
  server = undefined;
});

async function failureOf(client: Client, mode: HostileMode, deadlineMs: number): Promise<RemediationError> {
  server = await startHostile(mode);
  const error = await client.read(server.url, deadlineMs).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${client.name} answered a ${mode} server`).toBeDefined();
  return client.classify(error);
}

describe('Tablestore (the idempotency store, through the tablestore SDK)', () => {
  const run = (url: string, timeoutMs: number) =>
    new TablestoreIdempotencyStore({
      endpoint: url,
      instanceName: 'atrest-emu',
      tableName: 'atrest_idempotency',
      credentials: aliCredentials,
      timeoutMs,
      maxAttempts: 1,
    }).run('k', { ttlSeconds: 60, lockSeconds: 60, observedAt: Date.now() }, async () => ({
      value: 1,
      keep: true,
    }));

  // The SDK re-labels every transport error `NetworkingError` (retryable); our reason stays in the message.
  it.each([
    ['trickle', DEADLINE_MS, /no complete answer within 400 ms/],
    ['stall', DEADLINE_MS, /no complete answer within 400 ms/],
    ['huge', LONG_DEADLINE_MS, /over the 1048576-byte cap/],
  ] as const)('gives up on a %s answer: a retryable error naming the bound', async (mode, deadline, why) => {
    server = await startHostile(mode);

    const error = classifyOtsError(await run(server.url, deadline).catch((e: unknown) => e));

    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toMatch(why);
    expect(server.bytesSent()).toBeLessThan(SENT_BOUND);
  });
});

describe.each(clients)('$name', (client) => {
  it('gives up on a body that trickles after the headers: retryable RequestTimeout', async () => {
    const error = await failureOf(client, 'trickle', DEADLINE_MS);

    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('RequestTimeout');
    expect(error.retryable).toBe(true);
  });

  it('gives up on a body that stalls after the headers: retryable RequestTimeout', async () => {
    const error = await failureOf(client, 'stall', DEADLINE_MS);

    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('RequestTimeout');
  });

  it('stops reading a 300 MB body at its cap: retryable ResponseTooLarge', async () => {
    const error = await failureOf(client, 'huge', LONG_DEADLINE_MS);

    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('ResponseTooLarge');
    expect(server?.bytesSent()).toBeLessThan(SENT_BOUND);
  });

  it('refuses a body whose Content-Length is over the cap without reading it', async () => {
    const error = await failureOf(client, 'huge-declared', LONG_DEADLINE_MS);

    expect(error.code).toBe('ResponseTooLarge');
    expect(server?.bytesSent()).toBeLessThan(SENT_BOUND);
  });
});
