/**
 * The scheduled sweep of aws.log-group-kms: the rule's `{"atrest":{"sweep":true}}` runs every log
 * group of $AWS_REGION through the engine, with the real client against the emulator; one log line
 * per outcome plus a `sweep` summary; the time budget stops it early.
 */
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '#core/errors';
import { MemoryIdempotencyStore } from '#core/idempotency';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../../../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
import { captureJsonLines } from './log-lines.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CONFIG = JSON.stringify({
  aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^/aws/lambda/atrest-'] } },
});

vi.hoisted(() => {
  process.env.ATREST_CONFIG_JSON = JSON.stringify({
    aws: {
      logGroupKms: {
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    },
  });
});
const { createHandler, isSweepEvent, SWEEP_RESERVE_MS, sweepRateFrom } = await import(
  '../../../../functions/aws/log-group-kms/handler.ts'
);

let service: EmulatedService;
let state: CloudWatchLogsState;
let lines: Record<string, unknown>[];
const spies: { mockRestore(): void }[] = [];
const env = { ATREST_CONFIG_JSON: CONFIG, AWS_REGION: 'us-east-1', ATREST_SWEEP_RATE: '100' };

const context = (remaining: () => number = () => 300_000): Context =>
  ({
    functionName: 'atrest-log-group-kms',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:atrest-log-group-kms',
    memoryLimitInMB: '256',
    awsRequestId: 'sweep-request',
    logGroupName: '/aws/lambda/atrest-log-group-kms',
    logStreamName: '2026/11/22/[$LATEST]sweep',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: remaining,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }) as Context;

beforeAll(async () => {
  ({ service, state } = await startCloudWatchLogs());
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: service.url,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  });
});
afterAll(() => service.stop());

beforeEach(() => {
  service.resetLog();
  state.seedKey(KEY);
  for (let i = 0; i < 12; i++)
    state.seedLogGroup(`/app/g${String(i).padStart(2, '0')}`, i < 4 ? KEY : undefined);
  state.seedLogGroup('/aws/lambda/atrest-log-group-kms');
  lines = [];
  spies.push(...captureJsonLines((line) => lines.push(line)));
});
afterEach(() => {
  for (const spy of spies.splice(0)) spy.mockRestore();
});

const fast = { sleep: async () => {}, random: () => 0.5 };

describe('scheduled sweep', () => {
  it('recognises exactly the event the schedule sends', () => {
    expect(isSweepEvent({ atrest: { sweep: true } })).toBe(true);
    expect(isSweepEvent({ atrest: { sweep: 'yes' } })).toBe(false);
    expect(isSweepEvent({ atrest: { sweep: true }, detail: {} })).toBe(false);
  });

  it('sweeps every log group of the region: one outcome line each, then a summary', async () => {
    const run = createHandler({ env, engine: fast, store: new MemoryIdempotencyStore() });

    const outcomes = await run({ atrest: { sweep: true } }, context());

    const counts = Object.fromEntries(
      ['applied', 'compliant', 'excluded'].map((k) => [k, outcomes.filter((o) => o.outcome === k).length]),
    );
    expect(counts).toEqual({ applied: 8, compliant: 4, excluded: 1 });
    expect(service.count({ action: 'AssociateKmsKey', ok: true })).toBe(8);
    expect(state.logGroup('/app/g11')?.kmsKeyId).toBe(KEY);
    expect(lines.filter((l) => l.message === 'outcome')).toHaveLength(13);
    expect(lines.find((l) => l.message === 'sweep')).toMatchObject({
      level: 'INFO',
      function: 'aws.log-group-kms',
      region: 'us-east-1',
      listed: 13,
      complete: true,
      counts: { applied: 8, compliant: 4, excluded: 1 },
      writes: 8,
    });
  });

  it('stops starting resources when the invocation nears its end, and says so', async () => {
    const run = createHandler({ env, engine: fast, store: new MemoryIdempotencyStore() });
    let calls = 0;
    // Plenty of time for the first checks (the lock's length, the listing page, the first
    // resources), then within the reserve.
    const remaining = () => (++calls <= 6 ? 300_000 : SWEEP_RESERVE_MS - 1);

    const outcomes = await run({ atrest: { sweep: true } }, context(remaining));

    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.length).toBeLessThan(13);
    expect(lines.find((l) => l.message === 'sweep')).toMatchObject({ level: 'WARN', complete: false });
  });

  it('logs a listing it may not make as a failed outcome, without throwing', async () => {
    service.failNext('DescribeLogGroups', { status: 400, code: 'AccessDeniedException', times: 1 });
    const run = createHandler({ env, engine: fast, store: new MemoryIdempotencyStore() });

    const outcomes = await run({ atrest: { sweep: true } }, context());

    expect(outcomes).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        error: expect.objectContaining({ code: 'AccessDeniedException' }),
      }),
    ]);
    expect(lines.find((l) => l.message === 'outcome')).toMatchObject({
      level: 'ERROR',
      outcome: 'failed',
      Outcome: 1,
    });
  });

  it('reads ATREST_SWEEP_RATE once, refusing a bad value at init', () => {
    expect(sweepRateFrom({})).toBe(5);
    expect(sweepRateFrom({ ATREST_SWEEP_RATE: '2.5' })).toBe(2.5);
    expect(() => createHandler({ env: { ...env, ATREST_SWEEP_RATE: 'lots' } })).toThrow(ConfigError);
    expect(() => sweepRateFrom({ ATREST_SWEEP_RATE: '1000' })).toThrow(/at most 100/);
  });
});
