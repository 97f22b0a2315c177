/**
 * The deployed scheduled sweep when its region is bigger than one invocation and it shares a
 * throttled DescribeLogGroups quota: 400 log groups, a quota of 3 DescribeLogGroups calls a second
 * (listing pages and reads alike) below the sweep's own rate of 5, a 100 s Lambda timeout, one run
 * a day on a fake clock (the idempotency records of yesterday have expired: a fresh store per run).
 *
 * Before: pages were not paced, a throttled page restarted the listing three quick times then gave
 * up, and every run started from the top — the same first groups every day. Now pages share the
 * pace, a throttled page is retried alone under the retry policy, and each run resumes from the
 * cursor the last one left in the store: every group is covered within a few runs.
 */
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import { AdaptiveRateLimiter } from '#core/ratelimit';
import { MemorySweepCursorStore } from '#core/sweep-cursor';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../../../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
import { captureJsonLines } from './log-lines.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CONFIG = JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: KEY } } });
const GROUPS = 400;
const TIMEOUT_MS = 100_000;
const DAY_MS = 86_400_000;
const MAX_RUNS = 12;

vi.hoisted(() => {
  process.env.ATREST_CONFIG_JSON = JSON.stringify({
    aws: {
      logGroupKms: {
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    },
  });
});
const { createHandler } = await import('../../../../functions/aws/log-group-kms/handler.ts');

let service: EmulatedService;
let state: CloudWatchLogsState;
const spies: { mockRestore(): void }[] = [];
let lines: Record<string, unknown>[] = [];

/** A fake clock: sleeping advances it; the emulator's quota is measured on it too. */
const clock = { t: Date.parse('2026-11-22T03:00:00Z') };
const now = () => clock.t;
const sleep = async (ms: number) => {
  clock.t += ms;
};

const context = (deadline: number): Context =>
  ({
    functionName: 'atrest-log-group-kms',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:atrest-log-group-kms',
    awsRequestId: 'sweep-request',
    getRemainingTimeInMillis: () => deadline - clock.t,
  }) as unknown as Context;

beforeAll(async () => {
  ({ service, state } = await startCloudWatchLogs());
  service.now = now;
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', service.url);
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  spies.push(...captureJsonLines((line) => lines.push(line)));
});
afterAll(async () => {
  for (const spy of spies.splice(0)) spy.mockRestore();
  vi.unstubAllEnvs();
  await service.stop();
});
afterEach(() => {
  lines = [];
});

describe('a scheduled sweep larger than one invocation, on a throttled shared quota', () => {
  it('covers all 400 log groups across daily runs, each resuming where the last stopped', async () => {
    state.seedKey(KEY);
    // A backfill as it usually is: most groups already right (one read each), every fourth not.
    for (let i = 0; i < GROUPS; i++)
      state.seedLogGroup(`/app/g${String(i).padStart(3, '0')}`, i % 4 === 0 ? undefined : KEY);
    service.rateLimit('DescribeLogGroups', 3);
    const cursors = new MemorySweepCursorStore();
    const summaries: Record<string, unknown>[] = [];
    const checked = new Set<string>();
    let listingFailures = 0;
    const encrypted = () =>
      Array.from({ length: GROUPS }, (_, i) => state.logGroup(`/app/g${String(i).padStart(3, '0')}`)).filter(
        (g) => g?.kmsKeyId === KEY,
      ).length;

    let runs = 0;
    while (checked.size < GROUPS && runs < MAX_RUNS) {
      runs++;
      const run = createHandler({
        env: { ATREST_CONFIG_JSON: CONFIG, AWS_REGION: 'us-east-1', ATREST_SWEEP_RATE: '5' },
        // Yesterday's idempotency records have expired by today's run.
        store: new MemoryIdempotencyStore(),
        cursors,
        engine: { sleep, random: () => 0.5 },
        // The instance's adaptive limiter also waits on the fake clock.
        limiter: new AdaptiveRateLimiter({ now, sleep }),
        now,
      });
      const outcomes = await run({ atrest: { sweep: true } }, context(clock.t + TIMEOUT_MS));
      for (const o of outcomes) {
        if (o.outcome === 'applied' || o.outcome === 'compliant') checked.add(o.resource);
        if (o.resource === '') listingFailures++;
      }
      summaries.push(lines.find((l) => l.message === 'sweep') ?? {});
      lines = [];
      clock.t += DAY_MS;
    }

    // Every group was read and settled by some run, and ends encrypted.
    expect(checked.size).toBe(GROUPS);
    expect(encrypted()).toBe(GROUPS);
    // More than one run was needed, and every run after the first resumed instead of restarting.
    expect(runs).toBeGreaterThan(1);
    expect(summaries.slice(1).map((s) => s.resumed)).toEqual(summaries.slice(1).map(() => true));
    expect(summaries.at(-1)).toMatchObject({ complete: true, willResume: false });
    // The quota was really hit, and no listing gave up: every throttled page was retried.
    expect(service.count({ action: 'DescribeLogGroups', ok: false })).toBeGreaterThan(0);
    expect(listingFailures).toBe(0);
  }, 60_000);
});
