/**
 * alicloud.cluster-kms end to end at the wire: the FC adapter, the remediator and the real
 * @alicloud/openapi-client against the ACK and FC emulators (ACS3 signatures checked), with every
 * outcome the function can produce.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { handlerOptions } from '../../../../functions/alicloud/cluster-kms/handler.ts';
import { createRemediator } from '../../../../functions/alicloud/cluster-kms/remediator.ts';
import { createFcHandler, type FcContext, FcRemediationError } from '../../../../functions/alicloud/fc.ts';
import type { Config } from '../../../../functions/config.ts';
import { type AckEmulator, startAck } from '../../../emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../../../emulator/acs3.ts';
import { type FcEmulator, startFc } from '../../../emulator/fc.ts';

const ACCOUNT = '1234567890123456';
const ID = 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b';
const KEY = 'key-hzz6a1b2c3d4e5f6g7h8i';
const FUNCTION = 'atrest-cluster-kms';
const T0 = Date.parse('2026-11-22T08:00:00Z');
const sample = (name = 'create-cluster.json') =>
  readFileSync(new URL(`../../../../events/alicloud/cluster-kms/${name}`, import.meta.url), 'utf8');
const CONFIG: Config = { alicloud: { clusterKms: { kmsKeyId: KEY, deferDeadlineMinutes: 60 } } };
const context: FcContext = {
  requestId: 'fc-req-1',
  function: { name: FUNCTION, timeout: 60 },
  region: 'cn-hangzhou',
  accountId: ACCOUNT,
};

let ack: AckEmulator;
let fc: FcEmulator;
let logs: string[];
let store: MemoryIdempotencyStore;
let clock: number;

const env = (config: Config = CONFIG) => ({
  ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
  ALIBABA_CLOUD_ENDPOINT_CS: ack.url,
  ALIBABA_CLOUD_ENDPOINT_FC: fc.url,
  ATREST_CONFIG_JSON: JSON.stringify(config),
});
const handler = (config: Config = CONFIG) =>
  createFcHandler(
    handlerOptions({
      env: env(config),
      store,
      engine: { sleep: async () => {}, random: () => 0.5 },
      now: () => clock,
      random: () => 1,
      log: (line) => logs.push(line),
    }),
  );
/** Runs the handler; a thrown FcRemediationError still yields its outcomes. */
const run = async (event: unknown, config?: Config): Promise<{ outcomes: Outcome[]; threw: boolean }> => {
  try {
    const body = typeof event === 'string' ? Buffer.from(event) : (event as object);
    return { outcomes: await handler(config)(body, context), threw: false };
  } catch (error) {
    if (error instanceof FcRemediationError) return { outcomes: error.outcomes, threw: true };
    throw error;
  }
};
const writes = () => ack.service.count({ action: 'UpdateKMSEncryption' });
const reads = () => ack.service.count({ action: 'DescribeClusterDetail' });

beforeAll(async () => {
  ack = await startAck({ updatingReads: 1 });
  fc = await startFc({ functions: [FUNCTION] });
});
afterAll(async () => {
  await ack.stop();
  await fc.stop();
});
beforeEach(() => {
  ack.service.resetLog();
  ack.service.clearFaults();
  ack.clusters.delete(ID);
  fc.drain();
  logs = [];
  store = new MemoryIdempotencyStore();
  clock = T0;
});

describe('alicloud.cluster-kms through the emulator', () => {
  it('applied: writes the key to a running ACK Pro cluster and reads it back (1 read, 1 write, 1 verify)', async () => {
    ack.clusters.seed({ clusterId: ID });

    const { outcomes, threw } = await run(sample());

    expect(threw).toBe(false);
    expect(outcomes).toEqual([
      expect.objectContaining({
        function: 'alicloud.cluster-kms',
        resource: ID,
        outcome: 'applied',
        attempts: 1,
      }),
    ]);
    expect(ack.clusters.get(ID)).toMatchObject({ kmsKeyId: KEY, disableEncryption: false });
    expect([reads(), writes()]).toEqual([2, 1]);
  });

  it('compliant: one read, no write', async () => {
    ack.clusters.seed({ clusterId: ID, kmsKeyId: KEY, disableEncryption: false });

    const { outcomes } = await run(sample());

    expect(outcomes[0]?.outcome).toBe('compliant');
    expect([reads(), writes()]).toEqual([1, 0]);
  });

  it('writes again when encryption was disabled with the right key', async () => {
    ack.clusters.seed({ clusterId: ID, kmsKeyId: KEY, disableEncryption: true });

    const { outcomes } = await run(sample());

    expect(outcomes[0]?.outcome).toBe('applied');
    expect(ack.clusters.get(ID)?.disableEncryption).toBe(false);
  });

  it('excluded: a non-Pro cluster, with the reason', async () => {
    ack.clusters.seed({ clusterId: ID, clusterSpec: 'ack.standard' });

    const { outcomes } = await run(sample());

    expect(outcomes[0]).toMatchObject({
      outcome: 'excluded',
      reason: expect.stringContaining('secret encryption needs ACK Pro'),
    });
    expect(writes()).toBe(0);
  });

  it('ignored: a failed CreateCluster call, without a single API call', async () => {
    const { outcomes } = await run(sample('create-cluster-failed.json'));

    expect(outcomes[0]).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('QuotaExceeded.Cluster'),
    });
    expect(ack.service.calls).toHaveLength(0);
  });

  it('ignored: the function is not configured', async () => {
    ack.clusters.seed({ clusterId: ID });

    const { outcomes } = await run(sample(), { alicloud: { diskDefaultKms: { kmsKeyId: 'k' } } });

    expect(outcomes[0]).toMatchObject({
      outcome: 'ignored',
      reason: 'alicloud.cluster-kms is not configured',
    });
    expect(ack.service.calls).toHaveLength(0);
  });

  it('deferred: an initial cluster is re-queued with x-fc-async-delay, and the re-queued event finishes the job', async () => {
    ack.clusters.seed({ clusterId: ID, state: 'initial' });

    const first = await run(sample());
    const queued = fc.drain();
    ack.clusters.advance(ID, 'running');
    clock += 60_000;
    const second = await run(queued[0]?.body.toString('utf8'));

    expect(first.outcomes[0]).toMatchObject({
      outcome: 'deferred',
      reason: 'cluster is initial',
      attempts: 0,
    });
    expect(first.threw).toBe(false);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      functionName: FUNCTION,
      invocationType: 'Async',
      delaySeconds: 60,
      json: {
        atrest: { deferred: { attempt: 1, firstSeenAt: new Date(T0).toISOString() } },
        event: JSON.parse(sample()),
      },
    });
    expect(second.outcomes[0]?.outcome).toBe('applied');
    expect(fc.drain()).toEqual([]);
  });

  it('failed: still not ready past the configured deadline, nothing re-queued', async () => {
    ack.clusters.seed({ clusterId: ID, state: 'initial' });
    await run(sample());
    const [requeued] = fc.drain();
    clock += 61 * 60_000;

    const { outcomes, threw } = await run(requeued?.body.toString('utf8'));

    expect(threw).toBe(true);
    expect(outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'DeferralDeadlineExceeded' } });
    expect(fc.drain()).toEqual([]);
    expect(logs.some((l) => JSON.parse(l).level === 'ERROR')).toBe(true);
  });

  it('deferred, not failed: UpdateKMSEncryption answers 409 inside the five-minute window', async () => {
    ack.clusters.seed({ clusterId: ID, lastKmsUpdateAt: Date.now() });

    const { outcomes, threw } = await run(sample());

    expect(threw).toBe(false);
    expect(outcomes[0]).toMatchObject({
      outcome: 'deferred',
      reason: expect.stringContaining('OperationConflict'),
      attempts: 1,
    });
    expect(writes()).toBe(1);
    expect(fc.drain()).toHaveLength(1);
  });

  it('retries throttling on the read and a 5xx on the write, then applies', async () => {
    ack.clusters.seed({ clusterId: ID });
    ack.service.failNext('DescribeClusterDetail', { status: 429, code: 'Throttling.User', times: 2 });
    ack.service.failNext('UpdateKMSEncryption', { status: 503, code: 'ServiceUnavailable', times: 1 });

    const { outcomes } = await run(sample());

    expect(outcomes[0]).toMatchObject({ outcome: 'applied', attempts: 2 });
    expect(ack.service.count({ action: 'DescribeClusterDetail', ok: false })).toBe(2);
    expect(ack.service.count({ action: 'UpdateKMSEncryption', ok: false })).toBe(1);
  });

  it('gone: the cluster no longer exists (404)', async () => {
    const { outcomes, threw } = await run(sample());

    expect(outcomes[0]?.outcome).toBe('gone');
    expect(threw).toBe(false);
    expect(writes()).toBe(0);
  });

  it('gone: the cluster is being deleted', async () => {
    ack.clusters.seed({ clusterId: ID, state: 'deleting' });

    const { outcomes } = await run(sample());

    expect(outcomes[0]?.outcome).toBe('gone');
  });

  it.each([
    [400, 'InvalidParameter.KMSKeyId.CMKNotEnabled'],
    [403, 'ForbiddenUpdateKMSState'],
    [403, 'UserNotInTheWhiteList'],
    [403, 'InvalidParameter.KMSKeyId.KMSUnauthorized'],
  ])('failed after one attempt: HTTP %i %s', async (status, code) => {
    ack.clusters.seed({ clusterId: ID });
    ack.service.failNext('UpdateKMSEncryption', { status, code, times: 1 });

    const { outcomes, threw } = await run(sample());

    expect(threw).toBe(true);
    expect(outcomes[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: { code } });
    expect(outcomes[0]?.error?.requestId).toMatch(/^emu-/);
    expect(writes()).toBe(1);
  });

  it('failed without a write: the cluster itself failed', async () => {
    ack.clusters.seed({ clusterId: ID, state: 'failed' });

    const { outcomes } = await run(sample());

    expect(outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'ClusterStateFailed' } });
    expect(writes()).toBe(0);
  });

  it('duplicate: the same event delivered twice, and two deliveries at once, write once', async () => {
    ack.clusters.seed({ clusterId: ID });

    const concurrent = await Promise.all([run(sample()), run(sample())]);
    const later = await run(sample());

    const kinds = concurrent.map((r) => r.outcomes[0]?.outcome).sort();
    expect(kinds).toEqual(['applied', 'duplicate']);
    expect(later.outcomes[0]?.outcome).toBe('duplicate');
    expect(writes()).toBe(1);
  });

  it('rejected: malformed CloudEvents never reach the API', async () => {
    const missingData = await run({ id: 'x', source: 'acs.cs', type: 'cs:ActionTrail:ApiCall' });
    const notJson = await run('{"id": broken');

    expect(missingData.outcomes[0]).toMatchObject({ outcome: 'rejected', error: { code: 'InvalidEvent' } });
    expect(notJson.outcomes[0]?.outcome).toBe('rejected');
    expect(missingData.threw && notJson.threw).toBe(true);
    expect(ack.service.calls).toHaveLength(0);
  });

  it('logs one line per outcome and never the credentials', async () => {
    ack.clusters.seed({ clusterId: ID });

    await run(sample());

    expect(logs.map((l) => JSON.parse(l).message)).toEqual(['outcome']);
    expect(logs.join('\n')).not.toContain(EMULATOR_CREDENTIALS.accessKeySecret);
  });

  it('lists the clusters of a region for sweep, page by page', async () => {
    for (let i = 0; i < 60; i++)
      ack.clusters.seed({ clusterId: `c${i.toString(16).padStart(32, '0')}`, regionId: 'cn-shanghai' });
    const remediator = createRemediator({ env: env(), account: ACCOUNT });

    const listed: string[] = [];
    for await (const target of remediator.list?.('cn-shanghai', CONFIG) ?? []) listed.push(target.resource);

    expect(listed).toHaveLength(60);
    expect(ack.service.count({ action: 'DescribeClustersV1' })).toBe(2);
    for (let i = 0; i < 60; i++) ack.clusters.delete(`c${i.toString(16).padStart(32, '0')}`);
  });
});
