/**
 * Settled means settled, through the deployed entry points and the stores they run with: the
 * Lambda handler with Powertools on DynamoDB (dynalite), the Function Compute adapter with
 * Tablestore (the wire-level fake). For each way an event used to be lost, the first invocation
 * fails and the platform's retry a minute later (a simulated clock) either applies the key or
 * throws again (so the event reaches the dead letter) — it never returns a `duplicate` success
 * while the work is undone.
 *
 * Lambda retries an asynchronous invocation that failed twice, 1 minute and then 2 more minutes
 * later (shared/research/aws.md); the deployed function's timeout, and so its lock, is 5 minutes
 * (infra/aws). Function Compute's live functions run 60 s (infra/alicloud), so their lock is gone
 * by the retry a minute later.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Outcome } from '#core/outcome';
import { createFcHandler, FcRemediationError } from '../../functions/alicloud/fc.ts';
import { TablestoreIdempotencyStore } from '../../functions/alicloud/tablestore.ts';
import { createHandler } from '../../functions/aws/log-group-kms/handler.ts';
import { type RunningDynalite, startDynalite } from '../emulator/dynalite.ts';
import { type RunningTablestore, startTablestore } from '../emulator/tablestore.ts';
import { ackClusterDriver } from '../functions/alicloud/cluster-kms/driver.ts';
import { awsLogGroupDriver } from '../functions/aws/log-group-kms/driver.ts';
import type { AnyRemediator } from './drivers.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';

// The Lambda module builds its default handler at import (Lambda init): it needs a config then.
vi.hoisted(() => {
  process.env.ATREST_CONFIG_JSON ??= JSON.stringify({
    aws: {
      logGroupKms: {
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    },
  });
});

const fast = { sleep: async () => {}, random: () => 0.5 };

/** What one invocation did, as the platform sees it: returned (acknowledged) or threw (retry / dead letter). */
type Invocation = { returned: Outcome[] } | { threw: { outcomes: readonly Outcome[]; message: string } };

const returnedDuplicate = (i: Invocation) =>
  'returned' in i && i.returned.some((o) => o.outcome === 'duplicate');
const outcomesOf = (i: Invocation): readonly Outcome[] => ('returned' in i ? i.returned : i.threw.outcomes);

/** The remediator with a write that never returns: the runtime is killed while it waits. */
function killedMidWrite(remediator: AnyRemediator): { remediator: AnyRemediator; writing: () => boolean } {
  let writing = false;
  return {
    remediator: {
      ...remediator,
      owns: remediator.owns.bind(remediator),
      parse: remediator.parse.bind(remediator),
      desire: remediator.desire.bind(remediator),
      read: remediator.read.bind(remediator),
      evaluate: remediator.evaluate.bind(remediator),
      classify: remediator.classify.bind(remediator),
      apply: () => {
        writing = true;
        return new Promise<never>(() => {});
      },
    },
    writing: () => writing,
  };
}

/** Lets a never-finishing invocation reach its write (bounded: real time only, no clock involved). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  if (!condition()) throw new Error('the killed invocation never reached its write');
}

// ------------------------------------------------------------------------------------------------
// AWS: the Lambda handler, Powertools on DynamoDB
// ------------------------------------------------------------------------------------------------

describe('aws.log-group-kms: the Lambda handler with DynamoDB (dynalite) behind a fault proxy', () => {
  const d = awsLogGroupDriver();
  let db: RunningDynalite;
  let proxy: FaultProxy;
  /** 2 s after the sample's CloudTrail eventTime (2026-11-22T09:14:07Z). */
  const T0 = Date.parse('2026-11-22T09:14:09Z');
  const TIMEOUT_MS = 5 * 60_000;
  const silent = new Logger({ serviceName: 'atrest', logLevel: 'SILENT' });

  beforeAll(async () => {
    await d.start();
    db = await startDynalite({ tableName: 'hardening-settled' });
    proxy = await startFaultProxy(db.endpoint);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', proxy.url);
  });
  afterAll(async () => {
    await proxy.stop();
    await d.stop();
    await db.stop();
    vi.unstubAllEnvs();
  });
  beforeEach(async () => {
    d.reset();
    d.seed();
    proxy.clear();
    const { Items = [] } = await db.client.send(new ScanCommand({ TableName: db.tableName }));
    for (const item of Items)
      await db.client.send(
        new DeleteItemCommand({ TableName: db.tableName, Key: { id: item.id ?? { S: '' } } }),
      );
    // Only Date: Powertools and the engine read the clock; sockets and timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A handler as deployed: the store from IDEMPOTENCY_TABLE_NAME, DynamoDB through the proxy. */
  const lambda = (remediator: AnyRemediator = d.remediator()) =>
    createHandler({
      env: { ATREST_CONFIG_JSON: JSON.stringify(d.config()), IDEMPOTENCY_TABLE_NAME: db.tableName },
      remediator,
      logger: silent,
      engine: fast,
    });

  /** One invocation at the simulated time `at`, with a context whose deadline is the function's timeout. */
  async function invoke(handler: ReturnType<typeof lambda>, at: number): Promise<Invocation> {
    vi.setSystemTime(at);
    const deadline = Date.now() + TIMEOUT_MS;
    const context = {
      functionName: 'atrest-log-group-kms',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:atrest-log-group-kms',
      awsRequestId: `req-${at}`,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    } as unknown as Context;
    try {
      return { returned: await handler(d.event(), context) };
    } catch (error) {
      return { threw: error as { outcomes: readonly Outcome[]; message: string } };
    }
  }

  /** Lambda's own schedule: the first try, then retries 1 and 3 minutes later. */
  const retries = async (handler = lambda()) => [
    await invoke(handler, T0 + 60_000),
    await invoke(handler, T0 + 180_000),
  ];

  it('claim answer lost: fails and takes back its own claim; the retry a minute later applies', async () => {
    proxy.fail('PutItem', { kind: 'lose-answer' });

    const first = await invoke(lambda(), T0);
    const retry = await invoke(lambda(), T0 + 60_000);

    expect('threw' in first).toBe(true);
    expect(outcomesOf(first)).toMatchObject([{ outcome: 'failed' }]);
    expect('threw' in first && first.threw.message).toContain('idempotency store (claim)');
    expect(proxy.calls.map((c) => c.action)).toContain('DeleteItem');
    expect(retry).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });

  it('claim answer lost and the claim cannot be taken back: both retries throw (in progress), never a duplicate success; the DLQ replay after the lock applies', async () => {
    proxy.fail('PutItem', { kind: 'lose-answer' });
    proxy.fail('DeleteItem', {
      kind: 'error',
      status: 400,
      code: 'AccessDeniedException',
      message: 'not authorized to perform: dynamodb:DeleteItem',
      requestId: 'DDB-DELETE-DENIED-2',
    });

    const first = await invoke(lambda(), T0);
    const later = await retries();
    const replay = await invoke(lambda(), T0 + TIMEOUT_MS + 1_000);

    expect(outcomesOf(first)).toMatchObject([{ outcome: 'failed' }]);
    for (const retry of later) {
      expect(returnedDuplicate(retry)).toBe(false);
      expect(outcomesOf(retry)).toMatchObject([{ outcome: 'duplicate', settled: false }]);
      expect('threw' in retry).toBe(true);
    }
    expect(replay).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });

  it('denied write whose lock release fails: fails naming both, the retries throw, never a duplicate success', async () => {
    d.service.failNext(d.writeAction, { ...d.faults.denied, times: 1 });
    proxy.fail('DeleteItem', {
      kind: 'error',
      status: 400,
      code: 'AccessDeniedException',
      message: 'not authorized to perform: dynamodb:DeleteItem',
      requestId: 'DDB-DELETE-DENIED-1',
    });

    const first = await invoke(lambda(), T0);
    const later = await retries();

    const [line] = outcomesOf(first);
    expect('threw' in first).toBe(true);
    expect(line).toMatchObject({ outcome: 'failed', error: { code: 'AccessDeniedException' } });
    expect(line?.error?.message).toContain(
      'the idempotency lock could not be released (AccessDeniedException, request id DDB-DELETE-DENIED-1)',
    );
    for (const retry of later) {
      expect(returnedDuplicate(retry)).toBe(false);
      expect('threw' in retry).toBe(true);
    }
    expect(d.encrypted()).toBe(false);
  });

  it('a deferral whose lock release is denied fails with the store code (AccessDeniedException on DeleteItem, its request id); the retries throw', async () => {
    // Written, but the read-back keeps showing the old state: `deferred`, and its lock must go.
    d.emulator.state.lagReads('/hardening/group-0', 100);
    proxy.fail('DeleteItem', {
      kind: 'error',
      status: 400,
      code: 'AccessDeniedException',
      message: 'not authorized to perform: dynamodb:DeleteItem',
      requestId: 'DDB-DELETE-DENIED-3',
    });

    const first = await invoke(lambda(), T0);
    const later = await retries();

    expect('threw' in first).toBe(true);
    expect(outcomesOf(first)).toMatchObject([
      { outcome: 'failed', error: { code: 'AccessDeniedException', requestId: 'DDB-DELETE-DENIED-3' } },
    ]);
    expect(outcomesOf(first)[0]?.error?.message).toContain('the work ended deferred');
    for (const retry of later) {
      expect(returnedDuplicate(retry)).toBe(false);
      expect('threw' in retry).toBe(true);
    }
  });

  it('runtime killed mid-write: the lock stays, the retries throw instead of a duplicate success; a replay after the lock applies', async () => {
    const killed = killedMidWrite(d.remediator());
    void invoke(lambda(killed.remediator), T0);
    await until(killed.writing);

    const later = await retries();
    const replay = await invoke(lambda(), T0 + TIMEOUT_MS + 1_000);

    for (const retry of later) {
      expect(returnedDuplicate(retry)).toBe(false);
      expect(outcomesOf(retry)).toMatchObject([{ outcome: 'duplicate', settled: false }]);
    }
    expect(replay).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });

  it('a duplicate of completed work is acknowledged: the retry of an applied event returns', async () => {
    const first = await invoke(lambda(), T0);
    const again = await invoke(lambda(), T0 + 60_000);

    expect(first).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(again).toMatchObject({ returned: [{ outcome: 'duplicate', settled: true }] });
  });

  it('written but not recorded: applied with a warning, acknowledged (the key is on)', async () => {
    proxy.fail('UpdateItem', {
      kind: 'error',
      status: 400,
      code: 'ProvisionedThroughputExceededException',
      message: 'The level of configured provisioned throughput for the table was exceeded.',
      requestId: 'DDB-UPDATE-THROTTLED-1',
    });

    const first = await invoke(lambda(), T0);
    const redelivered = await invoke(lambda(), T0 + 60_000);

    expect(first).toMatchObject({ returned: [{ outcome: 'applied' }] });
    // Its lock was released: a redelivery checks again (one read) rather than waiting it out.
    expect(redelivered).toMatchObject({ returned: [{ outcome: 'compliant' }] });
    expect(outcomesOf(first)[0]?.reason).toContain(
      'warning: done, but the idempotency record could not be completed (ProvisionedThroughputExceededException, request id DDB-UPDATE-THROTTLED-1)',
    );
    expect(d.encrypted()).toBe(true);
  });

  it.each([
    ['a throttled claim', 'ProvisionedThroughputExceededException', 'DDB-PUT-THROTTLED-1'],
    ['a claim without permission', 'AccessDeniedException', 'DDB-PUT-DENIED-1'],
  ])('%s fails with the store code and request id, and throws', async (_what, code, requestId) => {
    proxy.fail('PutItem', { kind: 'error', status: 400, code, message: `${code} from DynamoDB`, requestId });

    const first = await invoke(lambda(), T0);

    expect('threw' in first).toBe(true);
    expect(outcomesOf(first)).toMatchObject([{ outcome: 'failed', error: { code, requestId } }]);
    expect(d.service.count({ write: true })).toBe(0);
  });

  it('a missing table fails with ResourceNotFoundException (not a generic store message), and throws', async () => {
    const handler = createHandler({
      env: { ATREST_CONFIG_JSON: JSON.stringify(d.config()), IDEMPOTENCY_TABLE_NAME: 'no-such-table' },
      remediator: d.remediator(),
      logger: silent,
      engine: fast,
    });

    const first = await invoke(handler, T0);

    expect('threw' in first).toBe(true);
    expect(outcomesOf(first)).toMatchObject([
      { outcome: 'failed', error: { code: 'ResourceNotFoundException' } },
    ]);
  });

  it('a group re-created after the first was done is new work; a redelivery of the old event is not', async () => {
    await invoke(lambda(), T0);
    d.remove();
    d.seed();
    vi.setSystemTime(T0 + 120_000);
    const oldAgain = await lambda()(d.event(), {
      getRemainingTimeInMillis: () => TIMEOUT_MS,
    } as unknown as Context);
    const recreated = d.event();
    recreated.detail.eventTime = '2026-11-22T09:16:00Z';
    recreated.detail.eventID = 'another-cloudtrail-call';
    const fresh = await lambda()(recreated, {
      getRemainingTimeInMillis: () => TIMEOUT_MS,
    } as unknown as Context);

    expect(oldAgain).toMatchObject([{ outcome: 'duplicate', settled: true }]);
    expect(fresh).toMatchObject([{ outcome: 'applied' }]);
    expect(d.encrypted()).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------
// Alibaba Cloud: the Function Compute adapter, Tablestore
// ------------------------------------------------------------------------------------------------

describe('alicloud.cluster-kms: the Function Compute adapter with Tablestore', () => {
  const d = ackClusterDriver();
  let ots: RunningTablestore;
  let proxy: FaultProxy;
  /** 2 s after the sample's ActionTrail eventTime (2026-11-22T08:00:03Z). */
  const T0 = Date.parse('2026-11-22T08:00:05Z');
  const TIMEOUT_S = 60;
  let clock = T0;

  beforeAll(async () => {
    await d.start();
    ots = await startTablestore();
    proxy = await startFaultProxy(ots.endpoint);
  });
  afterAll(async () => {
    await proxy.stop();
    await ots.stop();
    await d.stop();
  });
  beforeEach(() => {
    d.reset();
    ots.rows().clear();
    ots.service.clearFaults();
    proxy.clear();
    clock = T0;
  });

  const store = () =>
    new TablestoreIdempotencyStore({
      endpoint: proxy.url,
      instanceName: ots.instanceName,
      tableName: ots.tableName,
      credentials: () => ots.credentials,
      now: () => clock,
      sleep: async () => {},
    });

  const fc = (remediator: AnyRemediator = d.remediator()) =>
    createFcHandler({
      create: () => remediator,
      store: store(),
      env: { ATREST_CONFIG_JSON: JSON.stringify(d.config()) },
      now: () => clock,
      engine: fast,
      log: () => {},
    });

  async function invoke(handler: ReturnType<typeof fc>, at: number): Promise<Invocation> {
    clock = at;
    const context = {
      requestId: `fc-${at}`,
      region: 'cn-hangzhou',
      accountId: '1234567890123456',
      function: { name: 'atrest-cluster-kms', timeout: TIMEOUT_S },
    };
    try {
      return { returned: await handler(Buffer.from(JSON.stringify(d.event())), context) };
    } catch (error) {
      if (!(error instanceof FcRemediationError)) throw error;
      return { threw: error };
    }
  }

  it('claim answer lost: never a duplicate success; by the retry a minute later the key is applied', async () => {
    d.seed();
    proxy.fail('PutRow', { kind: 'lose-answer' });

    const first = await invoke(fc(), T0);
    const retry = 'threw' in first ? await invoke(fc(), T0 + 61_000) : first;

    expect(returnedDuplicate(first)).toBe(false);
    expect(retry).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });

  it('denied write whose lock release fails: fails naming OTS, an early retry throws, the retry after the lock applies', async () => {
    d.seed();
    d.service.failNext(d.writeAction, { ...d.faults.denied, times: 1 });
    ots.service.failNext('DeleteRow', { status: 503, code: 'OTSServerBusy', times: 10 });

    const first = await invoke(fc(), T0);
    const early = await invoke(fc(), T0 + 30_000);
    const retry = await invoke(fc(), T0 + 61_000);

    expect('threw' in first).toBe(true);
    expect(outcomesOf(first)[0]?.error?.message).toContain(
      'the idempotency lock could not be released (OTSServerBusy',
    );
    expect(returnedDuplicate(early)).toBe(false);
    expect(outcomesOf(early)).toMatchObject([{ outcome: 'duplicate', settled: false }]);
    expect(retry).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });

  it('runtime killed mid-write: the lock lasts the function timeout, not 15 minutes; the retry a minute later applies', async () => {
    d.seed();
    const killed = killedMidWrite(d.remediator());
    void invoke(fc(killed.remediator), T0);
    await until(killed.writing);

    const early = await invoke(fc(), T0 + 30_000);
    const retry = await invoke(fc(), T0 + 61_000);

    expect(returnedDuplicate(early)).toBe(false);
    expect('threw' in early).toBe(true);
    expect(retry).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });

  it('OTSServerBusy on release after deferred: fails with the OTS code (no silent re-queue chain end); the retry applies', async () => {
    d.notReady?.();
    ots.service.failNext('DeleteRow', { status: 503, code: 'OTSServerBusy', times: 10 });

    const first = await invoke(fc(), T0);
    d.emulator.clusters.advance(d.emulator.clusters.all()[0]?.clusterId ?? '');
    const retry = await invoke(fc(), T0 + 61_000);

    expect('threw' in first).toBe(true);
    expect(outcomesOf(first)).toMatchObject([{ outcome: 'failed', error: { code: 'OTSServerBusy' } }]);
    expect(outcomesOf(first)[0]?.error?.message).toContain('the work ended deferred');
    expect(retry).toMatchObject({ returned: [{ outcome: 'applied' }] });
    expect(d.encrypted()).toBe(true);
  });
});
