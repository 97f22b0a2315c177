/**
 * aws.log-group-kms end to end at the wire: the real CloudWatch Logs client, signed requests,
 * the emulator's state and faults; idempotency in memory and in DynamoDB (dynalite) through
 * Powertools. The endpoints come only from AWS_ENDPOINT_URL_CLOUDWATCH_LOGS / _DYNAMODB.
 */
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EngineDeps, remediateEvent, remediateTarget } from '#core/engine';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { PowertoolsIdempotencyStore } from '../../../../functions/aws/idempotency.ts';
import { createRemediator, type LogGroupTarget } from '../../../../functions/aws/log-group-kms/remediator.ts';
import { type Config, parseConfig } from '../../../../functions/config.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../../../emulator/cloudwatch-logs.ts';
import { type RunningDynalite, startDynalite } from '../../../emulator/dynalite.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';

/** A sample event as JSON, edited field by field in the tests. */
// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON on purpose.
type EventJson = Record<string, any>;

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_KEY = 'arn:aws:kms:us-east-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab';
const DISABLED_KEY = 'arn:aws:kms:us-east-1:111122223333:key/dddddddd-12ab-34cd-56ef-1234567890ab';
const NO_LOGS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/eeeeeeee-12ab-34cd-56ef-1234567890ab';

const CONFIG_JSON = {
  aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^/excluded/'] } },
  retry: { maxAttempts: 6 },
};

// handler.ts builds its default `handler` at import (Lambda init): give it a config first.
vi.hoisted(() => {
  process.env.ATREST_CONFIG_JSON = JSON.stringify({
    aws: {
      logGroupKms: {
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    },
  });
});
const { createHandler, UnsettledOutcomeError } = await import(
  '../../../../functions/aws/log-group-kms/handler.ts'
);

const config: Config = parseConfig(CONFIG_JSON);
const remediator = createRemediator();

let service: EmulatedService;
let state: CloudWatchLogsState;

const fixture = (name: string): EventJson =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/aws/log-group-kms/${name}.json`, import.meta.url), 'utf8'),
  );

let seq = 0;
/** The sample CreateLogGroup event for `name`, with a fresh EventBridge id. */
const eventFor = (name: string, edit?: (e: EventJson) => void): EventJson => {
  const e = fixture('create-log-group');
  seq += 1;
  e.id = `0000000${seq}-1111-4222-8333-444444444444`;
  e.detail.requestParameters.logGroupName = name;
  edit?.(e);
  return e;
};

const deps = (over: Partial<EngineDeps> = {}): EngineDeps => ({
  config,
  store: new MemoryIdempotencyStore(),
  sleep: async () => {},
  ...over,
});

const run = async (event: unknown, over: Partial<EngineDeps> = {}): Promise<Outcome> => {
  const [outcome] = await remediateEvent(remediator, event, deps(over));
  if (!outcome) throw new Error('no outcome');
  return outcome;
};

const calls = (action: string, ok?: boolean) =>
  service.count({ action, ...(ok !== undefined ? { ok } : {}) });

beforeAll(async () => {
  ({ service, state } = await startCloudWatchLogs());
  state
    .seedKey(KEY)
    .seedKey(OTHER_KEY)
    .seedKey(DISABLED_KEY, { enabled: false })
    .seedKey(NO_LOGS_KEY, { allowsLogs: false });
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', service.url);
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_REGION', 'us-east-1');
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await service.stop();
});

afterEach(() => {
  service.resetLog();
  service.clearFaults();
});

describe('every outcome, through the emulator', () => {
  it('applied: a new unencrypted group gets the key — 1 read, 1 write, 1 verify read', async () => {
    state.seedLogGroup('/e2e/applied');

    const outcome = await run(eventFor('/e2e/applied'));

    expect(outcome).toMatchObject({
      outcome: 'applied',
      attempts: 1,
      resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/e2e/applied',
    });
    expect(state.logGroup('/e2e/applied')?.kmsKeyId).toBe(KEY);
    expect(calls('DescribeLogGroups')).toBe(2);
    expect(calls('AssociateKmsKey')).toBe(1);
  });

  it('applied: a group with a different key is switched to the configured one', async () => {
    state.seedLogGroup('/e2e/other-key', OTHER_KEY);

    const outcome = await run(eventFor('/e2e/other-key'));

    expect(outcome.outcome).toBe('applied');
    expect(state.logGroup('/e2e/other-key')?.kmsKeyId).toBe(KEY);
  });

  it('compliant: a group that already has the key costs 1 read and no write', async () => {
    state.seedLogGroup('/e2e/compliant', KEY);

    const outcome = await run(eventFor('/e2e/compliant', (e) => (e.detail.requestParameters.kmsKeyId = KEY)));

    expect(outcome).toMatchObject({ outcome: 'compliant', attempts: 0 });
    expect(calls('DescribeLogGroups')).toBe(1);
    expect(calls('AssociateKmsKey')).toBe(0);
  });

  it('excluded: a name matching an exclude pattern is left alone, with no API call', async () => {
    state.seedLogGroup('/excluded/app');

    const outcome = await run(eventFor('/excluded/app'));

    expect(outcome).toMatchObject({ outcome: 'excluded', reason: expect.stringContaining('^/excluded/') });
    expect(service.calls).toHaveLength(0);
  });

  it('excluded: a region with no key of its own', async () => {
    const outcome = await run(eventFor('/e2e/far-away', (e) => (e.detail.awsRegion = 'ap-southeast-2')));

    expect(outcome).toMatchObject({
      outcome: 'excluded',
      reason: 'no key for region ap-southeast-2; set aws.logGroupKms.byRegion.ap-southeast-2',
    });
    expect(service.calls).toHaveLength(0);
  });

  it('ignored: a failed CreateLogGroup, and any event when the function is not configured', async () => {
    const failed = await run(fixture('create-log-group-failed'));
    const off = await run(eventFor('/e2e/off'), { config: parseConfig({}) });

    expect(failed.outcome).toBe('ignored');
    expect(off).toMatchObject({ outcome: 'ignored', reason: 'aws.log-group-kms is not configured' });
    expect(service.calls).toHaveLength(0);
  });

  it('gone: the group no longer exists when read', async () => {
    const outcome = await run(eventFor('/e2e/never-there'));

    expect(outcome.outcome).toBe('gone');
    expect(calls('AssociateKmsKey')).toBe(0);
  });

  it('gone: the group is deleted between the read and the write', async () => {
    state.seedLogGroup('/e2e/deleted-midway');
    service.failNext('AssociateKmsKey', {
      status: 400,
      code: 'ResourceNotFoundException',
      message: 'The specified log group does not exist.',
      times: 1,
    });

    const outcome = await run(eventFor('/e2e/deleted-midway'));

    expect(outcome).toMatchObject({ outcome: 'gone', attempts: 1 });
  });

  it('duplicate: a second delivery of the same work is answered from the idempotency record', async () => {
    state.seedLogGroup('/e2e/twice');
    const store = new MemoryIdempotencyStore();

    const first = await run(eventFor('/e2e/twice'), { store });
    service.resetLog();
    const second = await run(eventFor('/e2e/twice'), { store });

    expect(first.outcome).toBe('applied');
    expect(second).toMatchObject({ outcome: 'duplicate', reason: 'idempotency record completed' });
    expect(service.calls).toHaveLength(0);
  });

  it('rejected: malformed events never reach the API', async () => {
    const malformed: unknown[] = [
      '{"version":"0","id":"6f1c2a8e","detail-type":"AWS API Call via CloudTrail","source":"aws.lo',
      eventFor('/e2e/x', (e) => (e.detail.eventName = ['CreateLogGroup'])),
      eventFor('/e2e/x', (e) => (e.account = 111122223333)),
      eventFor('/bad name with spaces'),
      eventFor(`/${'x'.repeat(600)}`),
      { garbage: 'z'.repeat(10 * 1024) },
      'z'.repeat(10 * 1024),
    ];

    const outcomes = await Promise.all(malformed.map((e) => run(e)));

    expect(outcomes.map((o) => o.outcome)).toEqual(malformed.map(() => 'rejected'));
    expect(outcomes.every((o) => o.error?.code === 'InvalidEvent')).toBe(true);
    expect(service.calls).toHaveLength(0);
  });

  it('failed: a key policy that excludes CloudWatch Logs — one write attempt, the service code and request id', async () => {
    state.seedLogGroup('/e2e/denied');
    const denying = parseConfig({ aws: { logGroupKms: { kmsKeyArn: NO_LOGS_KEY } } });

    const outcome = await run(eventFor('/e2e/denied'), { config: denying });

    expect(outcome).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: {
        code: 'AccessDeniedException',
        message: expect.stringContaining(
          "not allowed to be used with Arn 'arn:aws:logs:us-east-1:111122223333:log-group:/e2e/denied'",
        ),
        requestId: expect.stringMatching(/^emu-/),
      },
    });
    expect(calls('AssociateKmsKey')).toBe(1);
  });

  it('failed: a disabled key is InvalidParameterException, not retried', async () => {
    state.seedLogGroup('/e2e/disabled-key');
    const disabled = parseConfig({ aws: { logGroupKms: { kmsKeyArn: DISABLED_KEY } } });

    const outcome = await run(eventFor('/e2e/disabled-key'), { config: disabled });

    expect(outcome).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: { code: 'InvalidParameterException' },
    });
  });

  it('deferred: written, but the read-back lags beyond the verify reads', async () => {
    state.seedLogGroup('/e2e/lagging').lagReads('/e2e/lagging', 100);

    const outcome = await run(eventFor('/e2e/lagging'), { verifyReads: 3 });

    expect(outcome).toMatchObject({ outcome: 'deferred', attempts: 1 });
    expect(state.logGroup('/e2e/lagging')?.kmsKeyId).toBe(KEY);
    // 1 read + 1 verify read + 3 extra verify reads.
    expect(calls('DescribeLogGroups')).toBe(5);
  });

  it('applied: a read-back that lags less than the verify reads is waited out', async () => {
    state.seedLogGroup('/e2e/brief-lag').lagReads('/e2e/brief-lag', 2);

    const outcome = await run(eventFor('/e2e/brief-lag'));

    expect(outcome.outcome).toBe('applied');
    expect(calls('DescribeLogGroups')).toBe(3);
  });
});

describe('conflicts and transient failures', () => {
  it('OperationAborted twice, then success: one successful write after re-reads', async () => {
    state.seedLogGroup('/e2e/contended');
    service.failNext('AssociateKmsKey', {
      status: 400,
      code: 'OperationAbortedException',
      message: 'Multiple concurrent requests to update the same resource were in conflict.',
      times: 2,
    });

    const outcome = await run(eventFor('/e2e/contended'));

    expect(outcome.outcome).toBe('applied');
    expect(outcome.attempts).toBeGreaterThanOrEqual(3);
    expect(calls('AssociateKmsKey', true)).toBe(1);
    expect(calls('AssociateKmsKey', false)).toBe(2);
    // A conflict means someone else may have done it: the state is read again before each retry.
    expect(calls('DescribeLogGroups')).toBe(1 + 2 + 1);
  });

  it('stops retrying a conflict when a re-read shows someone else applied the key', async () => {
    state.seedLogGroup('/e2e/raced');
    service.failNext('AssociateKmsKey', { status: 400, code: 'OperationAbortedException', times: 1 });
    const racer = async (ms: number) => {
      state.seedLogGroup('/e2e/raced', KEY);
      await Promise.resolve(ms);
    };

    const outcome = await run(eventFor('/e2e/raced'), { sleep: racer });

    expect(outcome).toMatchObject({ outcome: 'compliant', attempts: 1 });
    expect(calls('AssociateKmsKey')).toBe(1);
  });

  it.each([
    ['throttling', { status: 400, code: 'ThrottlingException', times: 2 }],
    ['ServiceUnavailable', { status: 503, code: 'ServiceUnavailableException', times: 1 }],
    ['an internal error', { status: 500, code: 'InternalFailure', times: 1 }],
  ])('retries the write after %s', async (_what, fault) => {
    const name = `/e2e/retry-${fault.code}`;
    state.seedLogGroup(name);
    service.failNext('AssociateKmsKey', fault);

    const outcome = await run(eventFor(name));

    expect(outcome).toMatchObject({ outcome: 'applied', attempts: fault.times + 1 });
    expect(calls('AssociateKmsKey', true)).toBe(1);
  });

  it('retries a read whose connection was reset', async () => {
    state.seedLogGroup('/e2e/reset');
    service.failNext('DescribeLogGroups', { status: 0, code: 'ECONNRESET', transport: 'reset', times: 1 });

    const outcome = await run(eventFor('/e2e/reset'));

    expect(outcome.outcome).toBe('applied');
  });

  it('fails with the last code when throttling outlasts the attempts', async () => {
    state.seedLogGroup('/e2e/throttled-out');
    service.failNext('AssociateKmsKey', { status: 400, code: 'ThrottlingException', times: 50 });

    const outcome = await run(eventFor('/e2e/throttled-out'));

    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 6, error: { code: 'ThrottlingException' } });
    expect(outcome.error?.message).toContain('retries exhausted');
  });
});

describe('idempotency in memory', () => {
  it('5 duplicate events → one write', async () => {
    state.seedLogGroup('/e2e/five');
    const store = new MemoryIdempotencyStore();

    const outcomes: Outcome[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(await run(eventFor('/e2e/five'), { store }));

    expect(outcomes.map((o) => o.outcome)).toEqual([
      'applied',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    expect(calls('AssociateKmsKey')).toBe(1);
  });

  it('a group deleted and re-created under the same name is new work, not a duplicate', async () => {
    state.seedLogGroup('/e2e/recreated');
    // The store's clock: the first delivery is handled 2 s after its CloudTrail eventTime.
    let now = Date.parse('2026-11-22T10:00:02Z');
    const store = new MemoryIdempotencyStore(() => now);
    const created = eventFor('/e2e/recreated', (e) => {
      e.detail.eventTime = '2026-11-22T10:00:00Z';
    });
    expect((await run(created, { store })).outcome).toBe('applied');

    // A stack redeploy a minute later: the group is deleted and created again (a new CloudTrail call).
    now += 60_000;
    state.delete('/e2e/recreated');
    state.seedLogGroup('/e2e/recreated');
    const redelivered = await run(created, { store });
    const again = await run(
      eventFor('/e2e/recreated', (e) => {
        e.detail.eventID = 'a-new-cloudtrail-call-id';
        e.detail.eventTime = '2026-11-22T10:01:00Z';
      }),
      { store },
    );

    expect(redelivered.outcome).toBe('duplicate');
    expect(again.outcome).toBe('applied');
    expect(state.logGroup('/e2e/recreated')?.kmsKeyId).toBe(KEY);
    expect(calls('AssociateKmsKey')).toBe(2);
  });
});

describe('sweep', () => {
  it('lists every group of a region across pages, with the account from each ARN', async () => {
    for (let i = 0; i < 120; i++) state.seedLogGroup(`/sweep/group-${String(i).padStart(3, '0')}`);

    const targets: LogGroupTarget[] = [];
    for await (const t of remediator.list?.('us-east-1', config) ?? []) targets.push(t);

    const swept = targets.filter((t) => t.logGroupName.startsWith('/sweep/'));
    expect(swept).toHaveLength(120);
    expect(swept[0]).toEqual({
      eventId: 'sweep:/sweep/group-000',
      account: '111122223333',
      region: 'us-east-1',
      resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/sweep/group-000',
      logGroupName: '/sweep/group-000',
    });
    expect(calls('DescribeLogGroups')).toBeGreaterThanOrEqual(3);
  });

  it('remediates a listed target like an event', async () => {
    state.seedLogGroup('/sweep2/one');
    const [target] = await (async () => {
      const all: LogGroupTarget[] = [];
      for await (const t of remediator.list?.('us-east-1', config) ?? [])
        if (t.logGroupName === '/sweep2/one') all.push(t);
      return all;
    })();
    if (!target) throw new Error('not listed');

    const outcome = await remediateTarget(remediator, target, deps());

    expect(outcome).toMatchObject({ eventId: 'sweep:/sweep2/one', outcome: 'applied' });
  });
});

describe('idempotency in DynamoDB (dynalite) through Powertools', () => {
  let db: RunningDynalite;
  const silent = () => new Logger({ serviceName: 'atrest', logLevel: 'SILENT' });
  const lambdaContext = (): Context =>
    ({
      functionName: 'atrest-log-group-kms',
      awsRequestId: `req-${seq}`,
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:atrest-log-group-kms',
      memoryLimitInMB: '256',
      getRemainingTimeInMillis: () => 60_000,
    }) as unknown as Context;
  const lambda = () =>
    createHandler({
      env: { ATREST_CONFIG_JSON: JSON.stringify(CONFIG_JSON), IDEMPOTENCY_TABLE_NAME: db.tableName },
      logger: silent(),
      engine: { sleep: async () => {} },
    });
  /** Invokes like Lambda does; an unsettled outcome is thrown, so unwrap it for the assertions. */
  const invoke = async (fn: ReturnType<typeof lambda>, event: unknown): Promise<Outcome[]> => {
    try {
      return await fn(event, lambdaContext());
    } catch (error) {
      if (error instanceof UnsettledOutcomeError) return [...error.outcomes];
      throw error;
    }
  };
  const records = async () =>
    (await db.client.send(new ScanCommand({ TableName: db.tableName }))).Items ?? [];

  beforeAll(async () => {
    db = await startDynalite();
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
  });

  afterAll(async () => {
    await db.stop();
  });

  it('5 duplicate events → one write', async () => {
    state.seedLogGroup('/ddb/five');
    const fn = lambda();

    const outcomes: Outcome[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(...(await invoke(fn, eventFor('/ddb/five'))));

    expect(outcomes.map((o) => o.outcome)).toEqual([
      'applied',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    expect(calls('AssociateKmsKey')).toBe(1);
  });

  it('2 concurrent invocations (two Lambda instances) → one write', async () => {
    state.seedLogGroup('/ddb/concurrent');

    const [a, b] = await Promise.all([
      invoke(lambda(), eventFor('/ddb/concurrent')),
      invoke(lambda(), eventFor('/ddb/concurrent')),
    ]);

    expect([a[0]?.outcome, b[0]?.outcome].sort()).toEqual(['applied', 'duplicate']);
    expect(calls('AssociateKmsKey')).toBe(1);
    expect(state.logGroup('/ddb/concurrent')?.kmsKeyId).toBe(KEY);
  });

  it('a failed run leaves no lock: the next delivery runs again', async () => {
    state.seedLogGroup('/ddb/fails-once');
    service.failNext('AssociateKmsKey', { status: 400, code: 'AccessDeniedException', times: 1 });
    const fn = lambda();
    const before = (await records()).length;

    const [failed] = await invoke(fn, eventFor('/ddb/fails-once'));
    const afterFailure = (await records()).length;
    const [retried] = await invoke(fn, eventFor('/ddb/fails-once'));

    expect(failed?.outcome).toBe('failed');
    expect(afterFailure).toBe(before);
    expect(retried?.outcome).toBe('applied');
    expect(calls('AssociateKmsKey')).toBe(2);
  });

  it('a deferred run leaves no lock either', async () => {
    state.seedLogGroup('/ddb/deferred').lagReads('/ddb/deferred', 100);
    const fn = lambda();

    const [deferred] = await invoke(fn, eventFor('/ddb/deferred'));
    const [again] = await invoke(fn, eventFor('/ddb/deferred'));

    expect(deferred?.outcome).toBe('deferred');
    expect(again?.outcome).not.toBe('duplicate');
  });

  it('works outside Lambda (no context: the CLI) and keeps a completed record', async () => {
    state.seedLogGroup('/ddb/cli');
    const store: IdempotencyStore = new PowertoolsIdempotencyStore({ tableName: db.tableName });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    const first = await run(eventFor('/ddb/cli'), { store });
    const second = await run(eventFor('/ddb/cli'), { store });
    warn.mockRestore();

    expect(first.outcome).toBe('applied');
    expect(second).toMatchObject({ outcome: 'duplicate', reason: 'idempotency record completed' });
    expect((await records()).some((r) => r.status?.S === 'COMPLETED')).toBe(true);
  });

  it('reports an unreachable store as failed instead of dropping the event', async () => {
    state.seedLogGroup('/ddb/no-table');
    const store = new PowertoolsIdempotencyStore({ tableName: 'no-such-table' });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    const outcome = await run(eventFor('/ddb/no-table'), { store });
    warn.mockRestore();

    expect(outcome.outcome).toBe('failed');
    expect(outcome.error?.message).toContain('idempotency store');
    expect(calls('AssociateKmsKey')).toBe(0);
  });
});
