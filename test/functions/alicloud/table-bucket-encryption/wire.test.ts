/**
 * alicloud.table-bucket-encryption end to end at the wire: the real remediator and OSS Tables
 * client, the engine, and the OSS Tables emulator (OSS4-HMAC-SHA256 signatures checked).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type EngineDeps, remediateEvent, remediateTarget } from '#core/engine';
import { MemoryIdempotencyStore } from '#core/idempotency';
import { FcRemediationError } from '../../../../functions/alicloud/fc.ts';
import { handler } from '../../../../functions/alicloud/table-bucket-encryption/handler.ts';
import { createRemediator } from '../../../../functions/alicloud/table-bucket-encryption/remediator.ts';
import { type Config, parseConfig } from '../../../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../../../emulator/acs3.ts';
import { type OssTablesEmulator, startOssTables } from '../../../emulator/oss-tables.ts';

const NAME = 'analytics-tables';
const ARN = `acs:osstables:cn-hangzhou:1234567890123456:bucket/${NAME}`;
const KEY = 'acs:kms:cn-hangzhou:1234567890123456:key/key-1';

const event = (): Record<string, unknown> & { data: Record<string, unknown> } =>
  JSON.parse(
    readFileSync(
      new URL(
        '../../../../events/alicloud/table-bucket-encryption/create-table-bucket.json',
        import.meta.url,
      ),
      'utf8',
    ),
  );

describe('alicloud.table-bucket-encryption against the OSS Tables emulator', () => {
  let oss: OssTablesEmulator;
  let remediator: ReturnType<typeof createRemediator>;

  const deps = (section: Record<string, unknown> | null = { sseAlgorithm: 'AES256' }): EngineDeps => ({
    // KMS skips parsing: the config refuses it (the API accepts only AES256 today), the remediator keeps the path.
    config:
      section?.sseAlgorithm === 'KMS'
        ? ({ alicloud: { tableBucketEncryption: section } } as Config)
        : parseConfig(section ? { alicloud: { tableBucketEncryption: section } } : {}),
    store: new MemoryIdempotencyStore(),
    sleep: async () => {},
  });
  const writes = () => oss.service.count({ action: 'PutTableBucketEncryption' });
  const reads = () => oss.service.count({ action: 'GetTableBucketEncryption' });

  beforeAll(async () => {
    oss = await startOssTables();
    remediator = createRemediator({
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: oss.url },
    });
  });
  afterAll(async () => {
    await oss.stop();
  });
  beforeEach(() => {
    oss.state.buckets.clear();
    oss.service.resetLog();
    oss.service.clearFaults();
  });

  it('applied: sets AES256 on a bucket without encryption (read, write, verify)', async () => {
    // Prepare
    oss.state.seedBucket(NAME);

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({
      function: 'alicloud.table-bucket-encryption',
      resource: ARN,
      outcome: 'applied',
      attempts: 1,
    });
    expect(oss.state.bucket(ARN)?.encryption).toEqual({ sseAlgorithm: 'AES256' });
    expect([reads(), writes()]).toEqual([2, 1]);
  });

  it('applied: replaces AES256 with the configured KMS key', async () => {
    oss.state.seedBucket(NAME, { encryption: { sseAlgorithm: 'AES256' } });
    const [outcome] = await remediateEvent(
      remediator,
      event(),
      deps({ sseAlgorithm: 'KMS', kmsKeyArn: KEY }),
    );
    expect(outcome?.outcome).toBe('applied');
    expect(oss.state.bucket(ARN)?.encryption).toEqual({ sseAlgorithm: 'KMS', kmsKeyArn: KEY });
  });

  it('applied: also when "no configuration" is a 404 rather than an empty answer', async () => {
    // Prepare
    const strict = await startOssTables({ missingEncryption: 'notFound' });
    strict.state.seedBucket(NAME);
    const r = createRemediator({
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: strict.url },
    });
    try {
      // Act
      const [outcome] = await remediateEvent(r, event(), deps());

      // Assess
      expect(outcome?.outcome).toBe('applied');
      expect(strict.state.bucket(ARN)?.encryption).toEqual({ sseAlgorithm: 'AES256' });
    } finally {
      await strict.stop();
    }
  });

  it('compliant: one read, no write', async () => {
    oss.state.seedBucket(NAME, { encryption: { sseAlgorithm: 'AES256' } });
    const [outcome] = await remediateEvent(remediator, event(), deps());
    expect(outcome).toMatchObject({ outcome: 'compliant', attempts: 0 });
    expect([reads(), writes()]).toEqual([1, 0]);
  });

  it('excluded and ignored: no call at all', async () => {
    // Prepare
    oss.state.seedBucket(NAME);
    const failedCall = { ...event(), data: { ...event().data, errorCode: 'TooManyBuckets' } };

    // Act
    const [excluded] = await remediateEvent(
      remediator,
      event(),
      deps({ sseAlgorithm: 'AES256', exclude: ['^analytics-'] }),
    );
    const [notConfigured] = await remediateEvent(remediator, event(), deps(null));
    const [failed] = await remediateEvent(remediator, failedCall, deps());

    // Assess
    expect([excluded?.outcome, notConfigured?.outcome, failed?.outcome]).toEqual([
      'excluded',
      'ignored',
      'ignored',
    ]);
    expect(oss.service.calls).toHaveLength(0);
  });

  it('gone: the bucket no longer exists (NoSuchBucket)', async () => {
    const [outcome] = await remediateEvent(remediator, event(), deps());
    expect(outcome).toMatchObject({ outcome: 'gone', attempts: 0 });
    expect(writes()).toBe(0);
  });

  it('duplicate: five deliveries make one write', async () => {
    // Prepare
    oss.state.seedBucket(NAME);
    const shared = deps();

    // Act
    const outcomes = (
      await Promise.all(Array.from({ length: 5 }, () => remediateEvent(remediator, event(), shared)))
    ).flat();
    outcomes.push(...(await remediateEvent(remediator, event(), shared)));

    // Assess
    expect(outcomes.filter((o) => o.outcome === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'duplicate')).toHaveLength(5);
    expect(writes()).toBe(1);
  });

  it('failed: AccessDenied ends after one attempt with the code and x-oss-request-id', async () => {
    // Prepare
    oss.state.seedBucket(NAME);
    oss.service.failNext('PutTableBucketEncryption', { status: 403, code: 'AccessDenied', times: 5 });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: { code: 'AccessDenied', requestId: expect.stringMatching(/^emu-/) },
    });
  });

  it('failed: an algorithm the service refuses is InvalidArgument, not retried', async () => {
    // Prepare: the service refuses the algorithm (e.g. KMS where only AES256 is supported)
    oss.state.seedBucket(NAME);
    oss.service.failNext('PutTableBucketEncryption', { status: 400, code: 'InvalidArgument', times: 1 });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 1, error: { code: 'InvalidArgument' } });
  });

  it('retries throttling and 5xx, then applies', async () => {
    // Prepare
    oss.state.seedBucket(NAME);
    oss.service
      .failNext('GetTableBucketEncryption', { status: 500, code: 'InternalError', times: 1 })
      .failNext('PutTableBucketEncryption', { status: 429, code: 'TooManyRequests', times: 1 })
      .failNext('PutTableBucketEncryption', { status: 503, code: 'ServiceUnavailable', times: 1 });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({ outcome: 'applied', attempts: 3 });
    expect(oss.state.bucket(ARN)?.encryption).toEqual({ sseAlgorithm: 'AES256' });
  });

  it('sweep: pages through ListTableBuckets and remediates each bucket of the region', async () => {
    // Prepare
    oss.state.seedBucket('tb-a');
    oss.state.seedBucket('tb-b', { encryption: { sseAlgorithm: 'AES256' } });
    oss.state.seedBucket('tb-c', { region: 'cn-beijing' });
    const shared = deps();
    const list = remediator.list;
    if (!list) throw new Error('the remediator has no list()');

    // Act
    const outcomes = [];
    for await (const t of list('cn-hangzhou', shared.config))
      outcomes.push(await remediateTarget(remediator, t, shared));

    // Assess
    expect(outcomes.map((o) => [o.resource, o.outcome])).toEqual([
      ['acs:osstables:cn-hangzhou:1234567890123456:bucket/tb-a', 'applied'],
      ['acs:osstables:cn-hangzhou:1234567890123456:bucket/tb-b', 'compliant'],
    ]);
  });
});

describe('table-bucket-encryption FC handler', () => {
  let oss: OssTablesEmulator;

  beforeAll(async () => {
    oss = await startOssTables();
    vi.stubEnv(
      'ATREST_CONFIG_JSON',
      JSON.stringify({ alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256' } } }),
    );
    vi.stubEnv('ALIBABA_CLOUD_ENDPOINT_OSS_TABLES', oss.url);
    vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await oss.stop();
  });

  const context = { credentials: EMULATOR_CREDENTIALS, function: { timeout: 60 } };

  it('remediates the Buffer FC delivers', async () => {
    oss.state.seedBucket(NAME);
    const outcomes = await handler(Buffer.from(JSON.stringify(event())), context);
    expect(outcomes).toMatchObject([{ outcome: 'applied', resource: ARN }]);
  });

  it.each([
    ['not JSON', Buffer.from('not json at all')],
    ['wrong types', Buffer.from(JSON.stringify({ ...event(), data: [] }))],
    [
      'a bad name',
      Buffer.from(
        JSON.stringify({
          ...event(),
          data: { ...event().data, requestParameters: { name: 'a.b' }, responseElements: {} },
        }),
      ),
    ],
    ['10 KB of garbage', Buffer.from('{'.repeat(10_240))],
  ])('rejects %s without calling OSS Tables', async (_why, body) => {
    // Prepare
    oss.service.resetLog();

    // Act
    const thrown = await handler(body, context).catch((e: unknown) => e);

    // Assess
    expect(thrown).toBeInstanceOf(FcRemediationError);
    expect((thrown as FcRemediationError).outcomes).toMatchObject([{ outcome: 'rejected' }]);
    expect(oss.service.calls).toHaveLength(0);
  });
});
