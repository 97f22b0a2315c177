/**
 * alicloud.logstore-encryption end to end at the wire: the real remediator and SLS client, the
 * engine, and the SLS emulator (LOG v1 signatures checked, project read from the Host header).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EngineDeps, remediateEvent, remediateTarget } from '#core/engine';
import { MemoryIdempotencyStore } from '#core/idempotency';
import { createRemediator } from '../../../../functions/alicloud/logstore-encryption/remediator.ts';
import { type Config, parseConfig } from '../../../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../../../emulator/acs3.ts';
import { type SlsEmulator, startSls } from '../../../emulator/sls.ts';

const event = (name = 'create-logstore.json'): Record<string, unknown> =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/alicloud/logstore-encryption/${name}`, import.meta.url), 'utf8'),
  );

const PROJECT = 'app-logs-prod';
const LOGSTORE = 'access-log';
const ROLE = 'acs:ram::1234567890123456:role/aliyunlogdefaultrole';

describe('alicloud.logstore-encryption against the SLS emulator', () => {
  let sls: SlsEmulator;
  let remediator: ReturnType<typeof createRemediator>;

  const deps = (section: Record<string, unknown> | null = { encryptType: 'default' }): EngineDeps => ({
    config: parseConfig(section ? { alicloud: { logstoreEncryption: section } } : {}),
    store: new MemoryIdempotencyStore(),
    sleep: async () => {},
  });
  const writes = () => sls.service.count({ action: 'UpdateLogStoreEncryption' });
  const reads = () => sls.service.count({ action: 'GetLogStore' });

  beforeAll(async () => {
    sls = await startSls();
    remediator = createRemediator({
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url },
    });
  });
  afterAll(async () => {
    await sls.stop();
  });
  beforeEach(() => {
    sls.state.projects.clear();
    sls.state.hosts.length = 0;
    sls.service.resetLog();
    sls.service.clearFaults();
  });

  it('applied: encrypts a new logstore with one read, one write and one verify read', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({
      function: 'alicloud.logstore-encryption',
      eventId: '7b4f3c2e-5a1d-4e8f-9c6b-2d1a0e9f8c71',
      resource: `${PROJECT}/${LOGSTORE}`,
      region: 'cn-hangzhou',
      outcome: 'applied',
      attempts: 1,
    });
    expect(sls.state.logstore(PROJECT, LOGSTORE)?.encrypt_conf).toEqual({
      enable: true,
      encrypt_type: 'default',
    });
    expect([reads(), writes()]).toEqual([2, 1]);
    expect(new Set(sls.state.hosts)).toEqual(new Set([`${PROJECT}.${new URL(sls.url).host}`]));
  });

  it('applied: bring-your-own-key, with the region-specific CMK', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    const section = {
      encryptType: 'aes_gcm',
      userCmkInfo: { keyId: 'key-default', roleArn: ROLE, regionId: 'cn-shanghai' },
      byRegion: { 'cn-hangzhou': { keyId: 'key-hz', roleArn: ROLE, regionId: 'cn-hangzhou' } },
    };

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps(section));

    // Assess
    expect(outcome?.outcome).toBe('applied');
    expect(sls.state.logstore(PROJECT, LOGSTORE)?.encrypt_conf).toEqual({
      enable: true,
      encrypt_type: 'aes_gcm',
      user_cmk_info: { cmk_key_id: 'key-hz', arn: ROLE, region_id: 'cn-hangzhou' },
    });
  });

  it('applied: re-enables a disabled configuration with the same type and key', async () => {
    sls.state.seedLogstore(PROJECT, LOGSTORE, { enable: false, encrypt_type: 'default' });
    const [outcome] = await remediateEvent(remediator, event(), deps());
    expect(outcome?.outcome).toBe('applied');
    expect(sls.state.logstore(PROJECT, LOGSTORE)?.encrypt_conf?.enable).toBe(true);
  });

  it('compliant: one read, no write', async () => {
    sls.state.seedLogstore(PROJECT, LOGSTORE, { enable: true, encrypt_type: 'default' });
    const [outcome] = await remediateEvent(remediator, event(), deps());
    expect(outcome).toMatchObject({ outcome: 'compliant', attempts: 0 });
    expect([reads(), writes()]).toEqual([1, 0]);
  });

  it('excluded: no call at all', async () => {
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    const [outcome] = await remediateEvent(
      remediator,
      event(),
      deps({ encryptType: 'default', exclude: ['/access-log$'] }),
    );
    expect(outcome).toMatchObject({ outcome: 'excluded', reason: expect.stringContaining('/access-log$') });
    expect(sls.service.calls).toHaveLength(0);
  });

  it('ignored: a failed CreateLogStore, and a function without config', async () => {
    // Act
    const [failedCall] = await remediateEvent(remediator, event('create-logstore-failed.json'), deps());
    const [switchedOff] = await remediateEvent(remediator, event(), deps(null));

    // Assess
    expect(failedCall).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('LogStoreAlreadyExist'),
    });
    expect(switchedOff).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('not configured'),
    });
    expect(sls.service.calls).toHaveLength(0);
  });

  it('gone: the logstore or its project no longer exists', async () => {
    // Prepare
    sls.state.seedProject(PROJECT);

    // Act
    const [noLogstore] = await remediateEvent(remediator, event(), deps());
    sls.state.projects.clear();
    const [noProject] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(noLogstore).toMatchObject({ outcome: 'gone', attempts: 0 });
    expect(noProject).toMatchObject({ outcome: 'gone', attempts: 0 });
    expect(writes()).toBe(0);
  });

  it('duplicate: five deliveries of one event make one write', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    const shared = deps();

    // Act
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(...(await remediateEvent(remediator, event(), shared)));

    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'applied',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    expect(writes()).toBe(1);
  });

  it('duplicate: five concurrent deliveries make one write', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    const shared = deps();

    // Act
    const outcomes = (
      await Promise.all(Array.from({ length: 5 }, () => remediateEvent(remediator, event(), shared)))
    ).flat();

    // Assess
    expect(outcomes.filter((o) => o.outcome === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'duplicate')).toHaveLength(4);
    expect(writes()).toBe(1);
  });

  it('failed: a logstore encrypted otherwise is EncryptionImmutable, never written', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE, { enable: true, encrypt_type: 'sm4_gcm' });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 0, error: { code: 'EncryptionImmutable' } });
    expect(writes()).toBe(0);
    expect(sls.state.logstore(PROJECT, LOGSTORE)?.encrypt_conf?.encrypt_type).toBe('sm4_gcm');
  });

  it('failed: Unauthorized ends after one attempt with the code and SLS request id', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    sls.service.failNext('UpdateLogStoreEncryption', { status: 401, code: 'Unauthorized', times: 3 });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: { code: 'Unauthorized', requestId: expect.stringMatching(/^emu-/) },
    });
    expect(writes()).toBe(1);
  });

  it('retries throttling (ExceedQuota) on the write, then applies', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    sls.service.failNext('UpdateLogStoreEncryption', {
      status: 403,
      code: 'ExceedQuota',
      message: 'Project operation qps exceed',
      times: 2,
    });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({ outcome: 'applied', attempts: 3 });
    expect(writes()).toBe(3);
  });

  it('retries 5xx answers and a reset connection on reads and writes', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    sls.service
      .failNext('GetLogStore', { status: 500, code: 'InternalServerError', times: 1 })
      .failNext('GetLogStore', { status: 0, code: 'reset', times: 1, transport: 'reset' })
      .failNext('UpdateLogStoreEncryption', { status: 503, code: 'ServerBusy', times: 1 });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({ outcome: 'applied', attempts: 2 });
    expect(sls.state.logstore(PROJECT, LOGSTORE)?.encrypt_conf?.enable).toBe(true);
  });

  it('fails with the throttling code when retries run out', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    sls.service.failNext('UpdateLogStoreEncryption', {
      status: 403,
      code: 'ExceedQuota',
      message: 'Project operation qps exceed',
      times: 50,
    });
    const config: Config = parseConfig({
      alicloud: { logstoreEncryption: { encryptType: 'default' } },
      retry: { maxAttempts: 3 },
    });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), { ...deps(), config });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 3, error: { code: 'ExceedQuota' } });
  });

  it('a hard quota (ExceedQuota that is not a rate) fails at once: no retry burns the budget', async () => {
    // Prepare
    sls.state.seedLogstore(PROJECT, LOGSTORE);
    sls.service.failNext('UpdateLogStoreEncryption', {
      status: 403,
      code: 'ExceedQuota',
      message: 'domain quota exceed',
      times: 50,
    });

    // Act
    const [outcome] = await remediateEvent(remediator, event(), deps());

    // Assess
    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 1, error: { code: 'ExceedQuota' } });
    expect(outcome?.error?.message).toMatch(/hard SLS quota/);
    expect(sls.service.count({ action: 'UpdateLogStoreEncryption' })).toBe(1);
  });

  it('sweep: lists every logstore of every project and remediates each', async () => {
    // Prepare
    sls.state.seedLogstore('proj-a', 'ls-plain');
    sls.state.seedLogstore('proj-a', 'ls-done', { enable: true, encrypt_type: 'default' });
    sls.state.seedLogstore('proj-b', 'ls-other', { enable: true, encrypt_type: 'm4' });
    const shared = deps();
    const list = remediator.list;
    if (!list) throw new Error('the remediator has no list()');

    // Act
    const outcomes = [];
    for await (const target of list('cn-hangzhou', shared.config))
      outcomes.push(await remediateTarget(remediator, target, shared));

    // Assess
    expect(outcomes.map((o) => [o.resource, o.outcome, o.account])).toEqual([
      ['proj-a/ls-done', 'compliant', '1234567890123456'],
      ['proj-a/ls-plain', 'applied', '1234567890123456'],
      ['proj-b/ls-other', 'failed', '1234567890123456'],
    ]);
    expect(sls.service.count({ action: 'ListProject' })).toBe(1);
    expect(sls.service.count({ action: 'ListLogStores' })).toBe(2);
  });
});
