import {
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CloudWatchLogsState, DUMMY_CREDENTIALS, startCloudWatchLogs } from './cloudwatch-logs.ts';
import type { EmulatedService } from './harness.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let service: EmulatedService;
let state: CloudWatchLogsState;
let client: CloudWatchLogsClient;

const caught = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (error: unknown) => error as Error & { $metadata: { httpStatusCode?: number; requestId?: string } },
  );

beforeAll(async () => {
  ({ service, state } = await startCloudWatchLogs());
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', service.url);
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  client = new CloudWatchLogsClient({ region: 'us-east-1', maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  vi.unstubAllEnvs();
  await service.stop();
});

afterEach(() => {
  service.resetLog();
  service.clearFaults();
});

describe('CloudWatch Logs emulator: wire protocol and signature', () => {
  it('answers a correctly signed DescribeLogGroups with the ARN forms the real service returns', async () => {
    state.seedLogGroup('/wire/one', KEY);

    const out = await client.send(new DescribeLogGroupsCommand({ logGroupIdentifiers: ['/wire/one'] }));

    expect(out.logGroups).toEqual([
      expect.objectContaining({
        logGroupName: '/wire/one',
        arn: 'arn:aws:logs:us-east-1:111122223333:log-group:/wire/one:*',
        logGroupArn: 'arn:aws:logs:us-east-1:111122223333:log-group:/wire/one',
        kmsKeyId: KEY,
      }),
    ]);
    expect(out.$metadata.requestId).toMatch(/^emu-/);
  });

  it('rejects a request signed with the wrong secret with InvalidSignatureException', async () => {
    const forged = new CloudWatchLogsClient({
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: DUMMY_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    });

    const error = await caught(forged.send(new DescribeLogGroupsCommand({})));
    forged.destroy();

    expect(error?.name).toBe('InvalidSignatureException');
    expect(error?.$metadata.httpStatusCode).toBe(400);
  });

  it('rejects an unknown access key with UnrecognizedClientException', async () => {
    const stranger = new CloudWatchLogsClient({
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: DUMMY_CREDENTIALS.secretAccessKey },
    });

    const error = await caught(stranger.send(new DescribeLogGroupsCommand({})));
    stranger.destroy();

    expect(error?.name).toBe('UnrecognizedClientException');
  });

  it('accepts temporary credentials (a signed session token)', async () => {
    const sts = new CloudWatchLogsClient({
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { ...DUMMY_CREDENTIALS, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' },
    });

    const out = await sts.send(new DescribeLogGroupsCommand({ limit: 1 }));
    sts.destroy();

    expect(out.$metadata.httpStatusCode).toBe(200);
  });
});

describe('CloudWatch Logs emulator: operations', () => {
  it('matches logGroupIdentifiers exactly, never as a prefix', async () => {
    state.seedLogGroup('/exact/foo').seedLogGroup('/exact/foo-bar');

    const exact = await client.send(new DescribeLogGroupsCommand({ logGroupIdentifiers: ['/exact/foo'] }));
    const prefix = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/exact/foo' }));

    expect(exact.logGroups?.map((g) => g.logGroupName)).toEqual(['/exact/foo']);
    expect(prefix.logGroups?.map((g) => g.logGroupName)).toEqual(['/exact/foo', '/exact/foo-bar']);
  });

  it('pages with limit and nextToken in ASCII order', async () => {
    for (const n of ['/page/c', '/page/a', '/page/b']) state.seedLogGroup(n);

    const first = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/page/', limit: 2 }));
    const second = await client.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: '/page/', limit: 2, nextToken: first.nextToken }),
    );

    expect(first.logGroups?.map((g) => g.logGroupName)).toEqual(['/page/a', '/page/b']);
    expect(second.logGroups?.map((g) => g.logGroupName)).toEqual(['/page/c']);
    expect(second.nextToken).toBeUndefined();
  });

  it('associates a known, enabled key that allows CloudWatch Logs', async () => {
    state.seedKey(KEY).seedLogGroup('/ops/assoc');

    await client.send(new AssociateKmsKeyCommand({ logGroupName: '/ops/assoc', kmsKeyId: KEY }));

    expect(state.logGroup('/ops/assoc')?.kmsKeyId).toBe(KEY);
    expect(service.count({ action: 'AssociateKmsKey', write: true, ok: true })).toBe(1);
  });

  it.each([
    ['an unknown key', 'unknown', undefined, 'InvalidParameterException'],
    ['a disabled key', 'disabled', { enabled: false }, 'InvalidParameterException'],
    [
      'a key whose policy excludes CloudWatch Logs',
      'no-logs',
      { allowsLogs: false },
      'AccessDeniedException',
    ],
  ] as const)('refuses %s', async (_what, keyId, keyOptions, code) => {
    const key = `arn:aws:kms:us-east-1:111122223333:key/${keyId}`;
    if (keyOptions) state.seedKey(key, keyOptions);
    state.seedLogGroup('/ops/refused');

    const error = await caught(
      client.send(new AssociateKmsKeyCommand({ logGroupName: '/ops/refused', kmsKeyId: key })),
    );

    expect(error?.name).toBe(code);
    expect(state.logGroup('/ops/refused')?.kmsKeyId).toBeUndefined();
  });

  it('names the log group ARN in the AccessDeniedException message, as the real service does', async () => {
    const key = 'arn:aws:kms:us-east-1:111122223333:key/no-logs';
    state.seedKey(key, { allowsLogs: false }).seedLogGroup('/ops/denied');

    const error = await caught(
      client.send(new AssociateKmsKeyCommand({ logGroupName: '/ops/denied', kmsKeyId: key })),
    );

    expect(error?.message).toBe(
      "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:us-east-1:111122223333:log-group:/ops/denied'",
    );
  });

  it('answers ResourceNotFoundException for an unknown log group', async () => {
    state.seedKey(KEY);

    const error = await caught(
      client.send(new AssociateKmsKeyCommand({ logGroupName: '/ops/none', kmsKeyId: KEY })),
    );

    expect(error?.name).toBe('ResourceNotFoundException');
  });

  it('creates and deletes log groups through the API', async () => {
    await client.send(new CreateLogGroupCommand({ logGroupName: '/ops/created' }));
    const again = await caught(client.send(new CreateLogGroupCommand({ logGroupName: '/ops/created' })));
    await client.send(new DeleteLogGroupCommand({ logGroupName: '/ops/created' }));

    expect(again?.name).toBe('ResourceAlreadyExistsException');
    expect(state.logGroup('/ops/created')).toBeUndefined();
  });

  it('shows the state from before the last write while lagReads has reads left', async () => {
    state.seedKey(KEY).seedLogGroup('/ops/lag');
    await client.send(new AssociateKmsKeyCommand({ logGroupName: '/ops/lag', kmsKeyId: KEY }));
    state.lagReads('/ops/lag', 1);

    const read = () => client.send(new DescribeLogGroupsCommand({ logGroupIdentifiers: ['/ops/lag'] }));
    const lagged = await read();
    const fresh = await read();

    expect(lagged.logGroups?.[0]?.kmsKeyId).toBeUndefined();
    expect(fresh.logGroups?.[0]?.kmsKeyId).toBe(KEY);
  });

  it('serves injected faults in the JSON error shape with a request id', async () => {
    service.failNext('AssociateKmsKey', { status: 400, code: 'OperationAbortedException', times: 1 });

    const error = await caught(
      client.send(new AssociateKmsKeyCommand({ logGroupName: '/ops/x', kmsKeyId: KEY })),
    );

    expect(error?.name).toBe('OperationAbortedException');
    expect(error?.$metadata.requestId).toMatch(/^emu-/);
  });
});
