/**
 * The idempotency record after a fault, in the stores that run in production: Powertools on
 * DynamoDB (dynalite) for AWS, Tablestore for Alibaba Cloud, plus the in-memory store with a clock.
 * A settled outcome leaves a completed record; a failure or deferral leaves none; a lock left by a
 * holder that crashed blocks later deliveries only until it expires, then the next one takes over.
 */
import type { IncomingMessage } from 'node:http';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { idempotencyKey, MemoryIdempotencyStore } from '#core/idempotency';
import { isSettled } from '#core/outcome';
import type { Target } from '#core/remediator';
import { TablestoreIdempotencyStore } from '../../functions/alicloud/tablestore.ts';
import { PowertoolsIdempotencyStore } from '../../functions/aws/idempotency.ts';
import { type RunningDynalite, startDynalite } from '../emulator/dynalite.ts';
import { type RunningTablestore, startTablestore } from '../emulator/tablestore.ts';
import { ackClusterDriver } from '../functions/alicloud/cluster-kms/driver.ts';
import { ecsDiskDefaultDriver } from '../functions/alicloud/disk-default-kms/driver.ts';
import { slsLogstoreDriver } from '../functions/alicloud/logstore-encryption/driver.ts';
import { ossTableBucketDriver } from '../functions/alicloud/table-bucket-encryption/driver.ts';
import { awsLogGroupDriver } from '../functions/aws/log-group-kms/driver.ts';
import { allDrivers, type Driver, deliver } from './drivers.ts';
import { type LagProxy, startLagProxy } from './lag-proxy.ts';

const LIMITS = { ttlSeconds: 3600, lockSeconds: 15 * 60, observedAt: 0 };

/** The idempotency key the engine derives for a driver's sample event. */
function keyOf(d: Driver): string {
  const config = d.config();
  const remediator = d.remediator();
  const parsed = remediator.parse(d.event(), config);
  if (parsed.kind !== 'targets') throw new Error(`${d.id}: sample does not parse`);
  const target = parsed.targets[0] as Target;
  const desire = remediator.desire(target, config);
  if (desire.kind !== 'desired') throw new Error(`${d.id}: nothing desired`);
  return idempotencyKey({
    functionId: d.id,
    account: target.account,
    region: target.region,
    resource: target.resource,
    desired: desire.key,
  });
}

describe('aws.log-group-kms: Powertools records in DynamoDB (dynalite)', () => {
  const d = awsLogGroupDriver();
  let db: RunningDynalite;
  const store = () => new PowertoolsIdempotencyStore({ tableName: db.tableName });
  const records = async () =>
    (await db.client.send(new ScanCommand({ TableName: db.tableName }))).Items ?? [];

  beforeAll(async () => {
    await d.start();
    db = await startDynalite({ tableName: 'hardening-records' });
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
  });
  afterAll(async () => {
    await d.stop();
    await db.stop();
    vi.unstubAllEnvs();
  });
  beforeEach(async () => {
    d.reset();
    for (const item of await records())
      await db.client.send(
        new PutItemCommand({ TableName: db.tableName, Item: { ...item, expiration: { N: '1' } } }),
      );
    // Powertools warns that it runs without a Lambda context (the CLI path); not what is tested here.
    vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const live = async () => (await records()).filter((r) => Number(r.expiration?.N) > Date.now() / 1000);

  it('conflict beyond the budget: failed, no record left, the next delivery applies', async () => {
    d.seed();
    d.service.failNext(d.writeAction, { ...d.faults.conflict, times: 99 });

    const failed = await deliver(d, { store: store() });
    const left = await live();
    d.service.clearFaults();
    const next = await deliver(d, { store: store() });

    expect(failed).toMatchObject({ outcome: 'failed', error: { code: 'OperationAbortedException' } });
    expect(left).toHaveLength(0);
    expect(next.outcome).toBe('applied');
    expect((await live()).map((r) => r.status?.S)).toEqual(['COMPLETED']);
  });

  it('permission denied: failed, no record left', async () => {
    d.seed();
    d.service.failNext(d.writeAction, { ...d.faults.denied, times: 1 });

    const failed = await deliver(d, { store: store() });

    expect(failed.outcome).toBe('failed');
    expect(await live()).toHaveLength(0);
  });

  it('a conflict then success: one COMPLETED record, the next delivery is a duplicate without a call', async () => {
    d.seed();
    d.service.failNext(d.writeAction, { ...d.faults.conflict, times: 1 });

    const first = await deliver(d, { store: store() });
    d.service.resetLog();
    const second = await deliver(d, { store: store() });

    expect([first.outcome, second.outcome]).toEqual(['applied', 'duplicate']);
    expect((await live()).map((r) => r.status?.S)).toEqual(['COMPLETED']);
    expect(d.service.calls).toHaveLength(0);
  });

  it('a crashed holder: its lock blocks until it expires, then the next delivery takes over', async () => {
    d.seed();
    await deliver(d, { store: store() });
    const [record] = await live();
    if (!record) throw new Error('no record');
    const lock = (inProgressUntilMs: number) =>
      db.client.send(
        new PutItemCommand({
          TableName: db.tableName,
          Item: {
            id: record.id ?? { S: '' },
            status: { S: 'INPROGRESS' },
            expiration: { N: String(Math.floor(Date.now() / 1000) + 3600) },
            in_progress_expiration: { N: String(inProgressUntilMs) },
          },
        }),
      );
    d.remove();
    d.seed();

    await lock(Date.now() + 60_000);
    const whileHeld = await deliver(d, { store: store() });
    await lock(Date.now() - 1_000);
    const afterExpiry = await deliver(d, { store: store() });

    expect(whileHeld).toMatchObject({ outcome: 'duplicate', reason: 'idempotency record inProgress' });
    expect(afterExpiry.outcome).toBe('applied');
    expect(d.encrypted()).toBe(true);
  });
});

describe('aws.log-group-kms: the store claim lands but its answer is lost', () => {
  const d = awsLogGroupDriver();
  let db: RunningDynalite;
  let proxy: LagProxy;
  /** Powertools' conditional PutItem is the claim; its answer is dropped once. */
  const claimKind = (req: IncomingMessage) =>
    String(req.headers['x-amz-target'] ?? '').endsWith('.PutItem') ? 'write' : undefined;

  beforeAll(async () => {
    await d.start();
    db = await startDynalite({ tableName: 'hardening-lost-claim' });
    proxy = await startLagProxy(db.endpoint, claimKind, 'lose-write-answer');
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', proxy.url);
  });
  afterAll(async () => {
    await proxy.stop();
    await d.stop();
    await db.stop();
    vi.unstubAllEnvs();
  });

  it('is not answered as a duplicate (which would drop the event): it fails, takes its claim back, and the retry applies', async () => {
    d.reset();
    d.seed();
    // The default DynamoDB client, as deployed. (The retry a minute later, through the Lambda
    // handler and on a simulated clock: test/hardening/settled.test.ts.)
    const store = () => new PowertoolsIdempotencyStore({ tableName: db.tableName });

    const first = await deliver(d, { store: store() });
    const retry = await deliver(d, { store: store() });

    expect(proxy.staleAnswers()).toBe(1);
    expect(first.outcome).toBe('failed');
    expect(first.error?.message).toContain('idempotency store (claim)');
    expect(retry.outcome).toBe('applied');
    expect(isSettled(retry)).toBe(true);
    expect(d.encrypted()).toBe(true);
  });
});

describe('Alibaba Cloud functions: Tablestore records', () => {
  let ots: RunningTablestore;
  const store = () =>
    new TablestoreIdempotencyStore({
      endpoint: ots.endpoint,
      instanceName: ots.instanceName,
      tableName: ots.tableName,
      credentials: () => ots.credentials,
      sleep: async () => {},
    });
  const statuses = () => [...ots.rows().values()].map((row) => row.status);

  beforeAll(async () => {
    ots = await startTablestore();
  });
  afterAll(async () => {
    await ots.stop();
  });
  beforeEach(() => {
    ots.rows().clear();
  });

  it('alicloud.cluster-kms not ready: deferred, no row; once running the next delivery applies', async () => {
    const d = ackClusterDriver();
    await d.start();
    try {
      d.reset();
      d.notReady?.();

      const deferred = await deliver(d, { store: store() });
      const left = statuses();
      d.emulator.clusters.advance(d.emulator.clusters.all()[0]?.clusterId ?? '');
      const next = await deliver(d, { store: store() });

      expect(deferred.outcome).toBe('deferred');
      expect(left).toEqual([]);
      expect(next.outcome).toBe('applied');
      expect(statuses()).toEqual(['completed']);
    } finally {
      await d.stop();
    }
  });

  it.each([
    ['alicloud.logstore-encryption', slsLogstoreDriver, 'conflict' as const],
    ['alicloud.disk-default-kms', ecsDiskDefaultDriver, 'denied' as const],
  ])('%s %s: failed, no row left', async (_id, make, fault) => {
    const d = make();
    await d.start();
    try {
      d.reset();
      d.seed();
      d.service.failNext(d.writeAction, { ...d.faults[fault], times: 99 });

      const failed = await deliver(d, { store: store() });

      expect(failed).toMatchObject({ outcome: 'failed', error: { code: d.faults[fault].code } });
      expect(statuses()).toEqual([]);
    } finally {
      await d.stop();
    }
  });

  it('alicloud.table-bucket-encryption timeout on the write: applied on retry, one completed row', async () => {
    const d = ossTableBucketDriver();
    await d.start();
    try {
      d.reset();
      d.seed();
      d.service.failNext(d.writeAction, { status: 0, code: 'RequestTimeout', transport: 'hang', times: 1 });

      const outcome = await deliver(d, { store: store() });
      const again = await deliver(d, { store: store() });

      expect(outcome).toMatchObject({ outcome: 'applied', attempts: 2 });
      expect(again.outcome).toBe('duplicate');
      expect(statuses()).toEqual(['completed']);
    } finally {
      await d.stop();
    }
  });

  it('a crashed holder: a live lock is a duplicate, an expired one is taken over', async () => {
    const d = slsLogstoreDriver();
    await d.start();
    try {
      d.reset();
      d.seed();
      const key = keyOf(d);

      ots.seed(key, { status: 'inProgress', expiresAt: Date.now() + 60_000, owner: 'crashed' });
      const whileHeld = await deliver(d, { store: store() });
      ots.seed(key, { status: 'inProgress', expiresAt: Date.now() - 1_000, owner: 'crashed' });
      const afterExpiry = await deliver(d, { store: store() });

      expect(whileHeld).toMatchObject({ outcome: 'duplicate', reason: 'idempotency record inProgress' });
      expect(afterExpiry.outcome).toBe('applied');
      expect(ots.rows().get(key)).toMatchObject({ status: 'completed' });
    } finally {
      await d.stop();
    }
  });
});

describe('every function, in-memory store with a clock: a crashed holder frees the key at expiry', () => {
  it.each(allDrivers().map((d) => [d.id, d] as const))('%s', async (_id, d) => {
    await d.start();
    try {
      // Prepare: a holder that took the lock and never finished (the process died).
      d.reset();
      d.seed();
      let now = Date.parse('2026-11-22T10:00:00Z');
      const store = new MemoryIdempotencyStore(() => now);
      void store.run(keyOf(d), LIMITS, () => new Promise<never>(() => {}));

      // Act
      const whileHeld = await deliver(d, { store });
      now += LIMITS.lockSeconds * 1000 + 1;
      const afterExpiry = await deliver(d, { store });

      // Assess
      expect(whileHeld).toMatchObject({ outcome: 'duplicate', reason: 'idempotency record inProgress' });
      expect(afterExpiry.outcome).toBe('applied');
      expect(d.encrypted()).toBe(true);
    } finally {
      await d.stop();
    }
  });
});
