import 'aws-sdk-client-mock-vitest/extend';
import { readFileSync } from 'node:fs';
import {
  AccessDeniedException,
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  ThrottlingException,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '#core/errors';
import type { Outcome } from '#core/outcome';
import { captureJsonLines } from './log-lines.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CONFIG = JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: KEY } } });

// The module builds `handler` at import (Lambda init), so its environment must exist first.
vi.hoisted(() => {
  process.env.ATREST_CONFIG_JSON = JSON.stringify({
    aws: {
      logGroupKms: {
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    },
  });
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
});

const { createHandler, handler, UnsettledOutcomeError } = await import(
  '../../../../functions/aws/log-group-kms/handler.ts'
);

const logs = mockClient(CloudWatchLogsClient);
const dynamo = mockClient(DynamoDBClient);

const event = (name = 'create-log-group'): unknown =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/aws/log-group-kms/${name}.json`, import.meta.url), 'utf8'),
  );

const NAME = '/app/orders/api';
const group = (kmsKeyId?: string, name = NAME) => ({
  logGroups: [
    {
      logGroupName: name,
      arn: `arn:aws:logs:us-east-1:111122223333:log-group:${name}:*`,
      ...(kmsKeyId ? { kmsKeyId } : {}),
    },
  ],
});

const context = (remainingMs = 60_000): Context =>
  ({
    functionName: 'atrest-log-group-kms',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:atrest-log-group-kms',
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/atrest-log-group-kms',
    logStreamName: '2026/11/22/[$LATEST]abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }) as Context;

/** Structured lines the Powertools Logger wrote (INFO to stdout, WARN and ERROR to stderr). */
let lines: Record<string, unknown>[];
const spies: { mockRestore(): void }[] = [];

const fast = { sleep: async () => {}, random: () => 0.5 };

beforeEach(() => {
  logs.reset();
  dynamo.reset();
  lines = [];
  spies.push(...captureJsonLines((line) => lines.push(line)));
});

afterEach(() => {
  for (const spy of spies.splice(0)) spy.mockRestore();
});

afterAll(() => {
  logs.restore();
  dynamo.restore();
});

describe('handler: outcomes', () => {
  it('applies the key to a new unencrypted group: 1 read, 1 write, 1 verify read', async () => {
    logs.on(DescribeLogGroupsCommand).resolvesOnce(group()).resolves(group(KEY));
    logs.on(AssociateKmsKeyCommand).resolves({});
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    const outcomes = await run(event(), context());

    expect(outcomes).toEqual([
      expect.objectContaining({
        function: 'aws.log-group-kms',
        outcome: 'applied',
        attempts: 1,
        resource: `arn:aws:logs:us-east-1:111122223333:log-group:${NAME}`,
      }),
    ]);
    expect(logs).toHaveReceivedCommandExactlyOnceWith(AssociateKmsKeyCommand, {
      logGroupName: NAME,
      kmsKeyId: KEY,
    });
    expect(logs).toHaveReceivedCommandTimes(DescribeLogGroupsCommand, 2);
    expect(logs).toHaveReceivedNthCommandWith(DescribeLogGroupsCommand, 1, { logGroupIdentifiers: [NAME] });
  });

  it('writes nothing when the group already has the key: 1 read', async () => {
    logs.on(DescribeLogGroupsCommand).resolves(group(KEY, '/app/payments/worker'));
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    const outcomes = await run(event('create-log-group-with-kms-key'), context());

    expect(outcomes[0]?.outcome).toBe('compliant');
    expect(logs).toHaveReceivedCommandTimes(DescribeLogGroupsCommand, 1);
    expect(logs).not.toHaveReceivedCommand(AssociateKmsKeyCommand);
  });

  it('logs a rejected event, then throws so the dead letter keeps it, without any API call', async () => {
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    const error = await run({ 'detail-type': 42 }, context()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnsettledOutcomeError);
    expect((error as { outcomes: Outcome[] }).outcomes[0]?.outcome).toBe('rejected');
    expect(logs).not.toHaveReceivedAnyCommand();
    expect(lines[0]).toMatchObject({ level: 'ERROR', outcome: 'rejected' });
  });

  it('throws after logging when the write is denied, carrying the outcome for the DLQ', async () => {
    logs.on(DescribeLogGroupsCommand).resolves(group());
    logs.on(AssociateKmsKeyCommand).rejects(
      new AccessDeniedException({
        message: `The specified KMS key does not exist or is not allowed to be used with Arn 'x'`,
        $metadata: { httpStatusCode: 400, requestId: 'req-denied' },
      }),
    );
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    const error = await run(event(), context()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnsettledOutcomeError);
    const outcomes = (error as InstanceType<typeof UnsettledOutcomeError>).outcomes;
    expect(outcomes[0]).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: { code: 'AccessDeniedException', requestId: 'req-denied' },
    });
    expect((error as Error).message).toContain('"code":"AccessDeniedException"');
    expect(lines[0]).toMatchObject({ level: 'ERROR', outcome: 'failed' });
  });

  it('takes its retry budget from the Lambda context: no retry that cannot fit', async () => {
    logs.on(DescribeLogGroupsCommand).resolves(group());
    logs
      .on(AssociateKmsKeyCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    const error = await run(event(), context(1_000)).catch((e: unknown) => e);

    const outcome = (error as InstanceType<typeof UnsettledOutcomeError>).outcomes[0];
    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 1, error: { code: 'ThrottlingException' } });
    expect(logs).toHaveReceivedCommandTimes(AssociateKmsKeyCommand, 1);
  });

  it('ignores a failed CreateLogGroup without reading anything', async () => {
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    const outcomes = await run(event('create-log-group-failed'), context());

    expect(outcomes[0]?.outcome).toBe('ignored');
    expect(logs).not.toHaveReceivedAnyCommand();
  });
});

describe('handler: the log line', () => {
  it('is one structured line per outcome with every Outcome field and its EMF metrics', async () => {
    logs.on(DescribeLogGroupsCommand).resolves(group(KEY));
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    await run(event(), context());

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      service: 'atrest',
      message: 'outcome',
      function: 'aws.log-group-kms',
      eventId: '6f1c2a8e-3b7d-4f0a-9c51-2d8e7b4a1f90',
      resource: `arn:aws:logs:us-east-1:111122223333:log-group:${NAME}`,
      region: 'us-east-1',
      account: '111122223333',
      outcome: 'compliant',
      attempts: 0,
      dryRun: false,
      Outcome: 1,
      DurationMs: expect.any(Number),
      function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: 'atrest',
            Dimensions: [['function', 'outcome']],
            Metrics: [
              { Name: 'Outcome', Unit: 'Count' },
              { Name: 'DurationMs', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
    });
  });
});

describe('handler: init', () => {
  it('fails the init with a ConfigError naming the bad field', () => {
    const bad = JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: 'alias/logs' } } });

    expect(() => createHandler({ env: { ATREST_CONFIG_JSON: bad } })).toThrow(ConfigError);
    expect(() => createHandler({ env: { ATREST_CONFIG_JSON: bad } })).toThrow(/aws\.logGroupKms\.kmsKeyArn/);
  });

  it('fails the init when the config is missing', () => {
    expect(() => createHandler({ env: {} })).toThrow(/ATREST_CONFIG_JSON/);
  });

  it('exports a ready handler built from the process environment', async () => {
    logs.on(DescribeLogGroupsCommand).resolves(group(KEY));

    const outcomes = await handler(event(), context());

    expect(outcomes[0]?.outcome).toBe('compliant');
  });

  it('keeps idempotency in DynamoDB through Powertools when IDEMPOTENCY_TABLE_NAME is set', async () => {
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(UpdateItemCommand).resolves({});
    logs.on(DescribeLogGroupsCommand).resolves(group(KEY));
    const run = createHandler({
      env: { ATREST_CONFIG_JSON: CONFIG, IDEMPOTENCY_TABLE_NAME: 'atrest-idempotency' },
      engine: fast,
    });

    const outcomes = await run(event(), context());

    expect(outcomes[0]?.outcome).toBe('compliant');
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, { TableName: 'atrest-idempotency' });
    expect(dynamo).toHaveReceivedCommandWith(UpdateItemCommand, { TableName: 'atrest-idempotency' });
  });

  it('dedupes repeated deliveries in memory when no table is set', async () => {
    logs.on(DescribeLogGroupsCommand).resolves(group(KEY));
    const run = createHandler({ env: { ATREST_CONFIG_JSON: CONFIG }, engine: fast });

    await run(event(), context());
    const second = await run(event(), context());

    expect(second[0]?.outcome).toBe('duplicate');
    expect(logs).toHaveReceivedCommandTimes(DescribeLogGroupsCommand, 1);
  });
});
