/**
 * Every event form (CONTRACT.md section 6) through each Alibaba Cloud function's deployed entry
 * (handler.ts options through the FC adapter), against the emulator: the EventBridge CloudEvent of
 * an ApiCall, a ConsoleOperation and an AliyunServiceEvent; a bare ActionTrail record; and the FC
 * SLS-trigger invocation, whose records the function reads from the emulated trail logstore with
 * signed PullLogs. Every sample is the file in events/ the README and `atrest replay` use.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createFcHandler,
  type FcHandlerOptions,
  FcRemediationError,
} from '../../../functions/alicloud/fc.ts';
import { MemoryIdempotencyStore } from '../../../functions/core/idempotency.ts';
import type { Outcome } from '../../../functions/core/outcome.ts';
import { type AckEmulator, startAck } from '../../emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type EcsEmulator, startEcs } from '../../emulator/ecs.ts';
import { type FcEmulator, startFc } from '../../emulator/fc.ts';
import { type OssTablesEmulator, startOssTables } from '../../emulator/oss-tables.ts';
import { type SlsEmulator, startSls } from '../../emulator/sls.ts';

const ACCOUNT = '1234567890123456';
const REGION = 'cn-hangzhou';
const KEY = 'key-hzz6c1f2b3a4d5e6f7g8h';
const TRAIL_PROJECT = 'atrest-trail-1234567890123456';
const TRAIL_LOGSTORE = 'actiontrail_atrest-trail';

const sample = (fn: string, file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../events/alicloud/${fn}/${file}`, import.meta.url), 'utf8'));

const config = {
  alicloud: {
    logstoreEncryption: { encryptType: 'default' },
    clusterKms: { kmsKeyId: KEY },
    tableBucketEncryption: { sseAlgorithm: 'AES256' },
    diskDefaultKms: { kmsKeyId: KEY, regions: [REGION] },
  },
};

let sls: SlsEmulator;
let ack: AckEmulator;
let ecs: EcsEmulator;
let tables: OssTablesEmulator;
let fcEmu: FcEmulator;
let env: Record<string, string>;

beforeAll(async () => {
  [sls, ack, ecs, tables, fcEmu] = await Promise.all([
    startSls(),
    startAck(),
    startEcs(),
    startOssTables(),
    startFc({ functions: ['atrest-cluster-kms'] }),
  ]);
  env = {
    ATREST_CONFIG_JSON: JSON.stringify(config),
    ALIBABA_CLOUD_ENDPOINT_SLS: sls.url,
    ALIBABA_CLOUD_ENDPOINT_CS: ack.url,
    ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
    ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: tables.url,
    ALIBABA_CLOUD_ENDPOINT_FC: fcEmu.url,
  };
});
afterAll(async () => {
  await Promise.all([sls.stop(), ack.stop(), ecs.stop(), tables.stop(), fcEmu.stop()]);
});

const context = (name: string) => ({
  requestId: 'fc-req-paths',
  credentials: EMULATOR_CREDENTIALS,
  function: { name, timeout: 60 },
  region: REGION,
  accountId: ACCOUNT,
});

/** The FC adapter with the function's own handler options, a fresh idempotency store, no sleeping. */
async function deployed(fn: string, lines: string[] = [], store = new MemoryIdempotencyStore()) {
  const { handlerOptions } = (await import(`../../../functions/alicloud/${fn}/handler.ts`)) as {
    handlerOptions: (o?: Partial<FcHandlerOptions>) => FcHandlerOptions;
  };
  const handle = createFcHandler(
    handlerOptions({
      env,
      store,
      engine: { sleep: async () => {} },
      log: (line) => lines.push(line),
    }),
  );
  return (event: unknown) => handle(Buffer.from(JSON.stringify(event)), context(`atrest-${fn}`));
}

/** Settles like the platform: a thrown FcRemediationError still carries the outcomes. */
async function settle(run: Promise<Outcome[]>): Promise<Outcome[]> {
  try {
    return await run;
  } catch (error) {
    if (error instanceof FcRemediationError) return error.outcomes;
    throw error;
  }
}

/** Writes a record into the emulated trail logstore as ActionTrail does: JSON under `event`. */
function deliverToTrail(shard: number, record: Record<string, unknown>, extra: Record<string, string> = {}) {
  return sls.state.appendLogs(TRAIL_PROJECT, TRAIL_LOGSTORE, shard, {
    topic: 'actiontrail_audit_event',
    logs: [
      {
        time: 1_795_161_600,
        contents: { __topic__: 'actiontrail_audit_event', event: JSON.stringify(record), ...extra },
      },
    ],
  });
}

interface FunctionCase {
  fn: string;
  stem: string;
  shard: number;
  /** Seeds the resource the sample names, unencrypted. */
  seed: (form: string) => void;
  /** Whether the resource the sample names now has the configured encryption. */
  encrypted: (form: string) => boolean;
}

const logstoreOf = (form: string) =>
  ({
    api: 'access-log',
    console: 'console-log',
    service: 'service-log',
    record: 'trail-log',
    trigger: 'trail-log',
  })[form] as string;
const clusterOf = (form: string) =>
  ({
    api: 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b',
    console: 'c4a2f9b7c3d5e5f6a0b1c2d3e4f5a6b7c',
    service: 'c5b3a0c8d4e6f6a7b1c2d3e4f5a6b7c8d',
    record: 'c6c4b1d9e5f7a7b8c2d3e4f5a6b7c8d9e',
    trigger: 'c6c4b1d9e5f7a7b8c2d3e4f5a6b7c8d9e',
  })[form] as string;
const bucketOf = (form: string) =>
  `acs:osstables:${REGION}:${ACCOUNT}:bucket/${
    ({
      api: 'analytics-tables',
      console: 'console-tables',
      service: 'service-tables',
      record: 'trail-tables',
      trigger: 'trail-tables',
    })[form] as string
  }`;

const CASES: FunctionCase[] = [
  {
    fn: 'logstore-encryption',
    stem: 'create-logstore',
    shard: 0,
    seed: (form) => sls.state.seedLogstore('app-logs-prod', logstoreOf(form)),
    encrypted: (form) => sls.state.logstore('app-logs-prod', logstoreOf(form))?.encrypt_conf?.enable === true,
  },
  {
    fn: 'cluster-kms',
    stem: 'create-cluster',
    shard: 1,
    seed: (form) => ack.clusters.seed({ clusterId: clusterOf(form), state: 'running' }),
    encrypted: (form) => ack.clusters.get(clusterOf(form))?.kmsKeyId === KEY,
  },
  {
    fn: 'table-bucket-encryption',
    stem: 'create-table-bucket',
    shard: 2,
    seed: (form) => tables.state.seedBucket(bucketOf(form).split('/')[1] as string),
    encrypted: (form) => tables.state.bucket(bucketOf(form))?.encryption?.sseAlgorithm === 'AES256',
  },
  {
    fn: 'disk-default-kms',
    stem: 'enable-disk-encryption-by-default',
    shard: 3,
    seed: () => {
      ecs.state.seedKey(REGION, KEY);
      ecs.state.seedRegion(REGION, { encrypted: true, kmsKeyId: ecs.state.serviceKeyId(REGION) });
    },
    encrypted: () => ecs.state.region(REGION).kmsKeyId === KEY,
  },
];

const FORMS = [
  ['api', '', 'an EventBridge ApiCall CloudEvent'],
  ['console', '.console', 'an EventBridge ConsoleOperation CloudEvent'],
  ['service', '.service', 'an EventBridge AliyunServiceEvent CloudEvent'],
  ['record', '.record', 'a bare ActionTrail record'],
] as const;

describe.each(CASES)('alicloud.$fn', (c) => {
  it.each(FORMS)('%s form: %s… ends applied', async (form, suffix) => {
    // Prepare
    c.seed(form);
    const handle = await deployed(c.fn);

    // Act
    const outcomes = await handle(sample(c.fn, `${c.stem}${suffix}.json`));

    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(['applied']);
    expect(outcomes[0]?.account).toBe(ACCOUNT);
    expect(c.encrypted(form)).toBe(true);
  });

  it('trail path: the SLS trigger invocation reads its records with PullLogs and applies', async () => {
    // Prepare: the trail has delivered this function's record, and the other functions' records, to the shard
    c.seed('trigger');
    const range = deliverToTrail(c.shard, sample(c.fn, `${c.stem}.record.json`));
    for (const other of CASES.filter((o) => o.fn !== c.fn))
      deliverToTrail(c.shard, sample(other.fn, `${other.stem}.record.json`));
    const trigger = sample(c.fn, `${c.stem}.sls-trigger.json`);
    const lines: string[] = [];
    const handle = await deployed(c.fn, lines);
    sls.service.resetLog();

    // Act
    const outcomes = await handle(trigger);

    // Assess: exactly the sample's range was read (signed), and only this function's record ran
    expect((trigger.source as { beginCursor: string }).beginCursor).toBe(range.beginCursor);
    expect((trigger.source as { endCursor: string }).endCursor).toBe(range.endCursor);
    expect(sls.service.count({ action: 'PullLogs', ok: true })).toBe(1);
    expect(outcomes.map((o) => o.outcome)).toEqual(['applied']);
    expect(c.encrypted('trigger')).toBe(true);
    expect(lines.some((l) => l.includes('"message":"trail"') && l.includes('"owned":1'))).toBe(true);
  });
});

describe('trail path', () => {
  const logstoreFn = CASES[0] as FunctionCase;
  let shard = 10;
  beforeEach(() => {
    shard++;
  });
  afterEach(() => sls.service.clearFaults());

  const triggerFor = (
    range: { beginCursor: string; endCursor: string },
    source: Record<string, unknown> = {},
  ) => {
    const event = sample('logstore-encryption', 'create-logstore.sls-trigger.json');
    event.source = { ...(event.source as object), shardId: shard, ...range, ...source };
    return event;
  };

  it('skips the records other functions own, and gives no outcome line for them', async () => {
    // Prepare
    const first = deliverToTrail(shard, sample('cluster-kms', 'create-cluster.record.json'));
    const last = deliverToTrail(
      shard,
      sample('disk-default-kms', 'enable-disk-encryption-by-default.record.json'),
    );
    const lines: string[] = [];
    const handle = await deployed(logstoreFn.fn, lines);

    // Act
    const outcomes = await handle(triggerFor({ beginCursor: first.beginCursor, endCursor: last.endCursor }));

    // Assess
    expect(outcomes).toEqual([]);
    expect(lines.find((l) => l.includes('"message":"trail"'))).toContain('"skipped":2');
  });

  it('one creation delivered by EventBridge and by the trail is one piece of work: the second is a duplicate', async () => {
    // Prepare: the same ActionTrail record (same eventId) as a CloudEvent and in the trail logstore
    sls.state.seedLogstore('app-logs-prod', 'trail-log');
    const record = sample('logstore-encryption', 'create-logstore.record.json');
    const cloudEvent = {
      ...sample('logstore-encryption', 'create-logstore.json'),
      id: 'eventbridge-envelope-id',
      data: record,
    };
    const range = deliverToTrail(shard, record);
    const store = new MemoryIdempotencyStore();
    const handle = await deployed(logstoreFn.fn, [], store);
    sls.service.resetLog();

    // Act
    const first = await handle(cloudEvent);
    const second = await handle(triggerFor(range));

    // Assess: one write in all
    expect(first.map((o) => o.outcome)).toEqual(['applied']);
    expect(second.map((o) => o.outcome)).toEqual(['duplicate']);
    expect(sls.service.count({ action: 'UpdateLogStoreEncryption' })).toBe(1);
  });

  it('an empty range (a storage upgrade moves the cursor) reads nothing and succeeds', async () => {
    const range = deliverToTrail(shard, sample('cluster-kms', 'create-cluster.record.json'));
    const handle = await deployed(logstoreFn.fn);
    await expect(
      handle(triggerFor({ beginCursor: range.endCursor, endCursor: range.endCursor })),
    ).resolves.toEqual([]);
  });

  it('a log whose event field is not an ActionTrail record is rejected, and the invocation fails', async () => {
    // Prepare
    const range = sls.state.appendLogs(TRAIL_PROJECT, TRAIL_LOGSTORE, shard, {
      logs: [{ time: 1, contents: { event: '{"eventName": "CreateLogStore", trunc' } }],
    });
    const handle = await deployed(logstoreFn.fn);

    // Act
    const thrown = await handle(triggerFor(range)).catch((e: unknown) => e);

    // Assess
    expect(thrown).toBeInstanceOf(FcRemediationError);
    expect((thrown as FcRemediationError).outcomes).toMatchObject([
      { outcome: 'rejected', error: { code: 'InvalidEvent', message: expect.stringContaining('not JSON') } },
    ]);
  });

  it('never follows the endpoint in the event: another region is refused before any read', async () => {
    // Prepare
    const range = deliverToTrail(shard, sample('logstore-encryption', 'create-logstore.record.json'));
    const handle = await deployed(logstoreFn.fn);
    sls.service.resetLog();

    // Act
    const outcomes = await settle(
      handle(triggerFor(range, { endpoint: 'http://cn-beijing-intranet.log.aliyuncs.com' })),
    );

    // Assess
    expect(outcomes).toMatchObject([
      { outcome: 'rejected', error: { message: expect.stringContaining('cn-beijing') } },
    ]);
    expect(sls.service.calls).toHaveLength(0);
  });

  it('an endpoint that is no SLS host is never connected to: the read goes to the configured endpoint', async () => {
    // Prepare
    logstoreFn.seed('trigger');
    const range = deliverToTrail(shard, sample('logstore-encryption', 'create-logstore.record.json'));
    const handle = await deployed(logstoreFn.fn);
    sls.service.resetLog();

    // Act
    const outcomes = await handle(triggerFor(range, { endpoint: 'http://169.254.169.254' }));

    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(['applied']);
    expect(sls.service.count({ action: 'PullLogs' })).toBe(1);
  });

  it('a PullLogs error ends failed with SLS code and request id, so the trigger retries the range', async () => {
    // Prepare
    const range = deliverToTrail(shard, sample('logstore-encryption', 'create-logstore.record.json'));
    sls.service.failNext('PullLogs', { status: 403, code: 'Unauthorized', times: 1 });
    const handle = await deployed(logstoreFn.fn);

    // Act
    const thrown = await handle(triggerFor(range)).catch((e: unknown) => e);

    // Assess
    expect(thrown).toBeInstanceOf(FcRemediationError);
    const [outcome] = (thrown as FcRemediationError).outcomes;
    expect(outcome).toMatchObject({ outcome: 'failed', error: { code: 'Unauthorized' } });
    expect(outcome?.error?.requestId).toMatch(/.+/);
  });

  it('a record whose cluster is not ready yet is re-queued alone, and applied when it comes back', async () => {
    // Prepare
    const record = sample('cluster-kms', 'create-cluster.record.json');
    const clusterId = clusterOf('record');
    ack.clusters.seed({ clusterId, state: 'initial', readyAfterReads: 1_000 });
    const range = deliverToTrail(shard, record);
    fcEmu.drain();
    const handle = await deployed('cluster-kms');

    // Act: the trail delivers it while the cluster is initial; minutes later it runs
    const first = await handle({ ...triggerFor(range) });
    ack.clusters.advance(clusterId, 'running');
    const requeued = fcEmu.drain();
    const second = await handle(JSON.parse(requeued[0]?.body.toString('utf8') ?? 'null'));

    // Assess: the re-queued body is the record itself (not the whole range), wrapped once
    expect(first.map((o) => o.outcome)).toEqual(['deferred']);
    expect(requeued).toHaveLength(1);
    expect(JSON.parse(requeued[0]?.body.toString('utf8') ?? '{}').event).toEqual(record);
    expect(second.map((o) => o.outcome)).toEqual(['applied']);
  });
});
