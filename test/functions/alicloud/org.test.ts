/**
 * Alibaba Cloud functions across accounts, through the Function Compute adapter: Alibaba Cloud STS
 * and SLS / ECS emulated at the wire, one AccountDirectory deciding which account each access key
 * belongs to. Every write must land in the event's account's state, made with that account's
 * assumed-role credentials (CONTRACT.md section 7).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { handlerOptions as diskOptions } from '../../../functions/alicloud/disk-default-kms/handler.ts';
import { createFcHandler, FcRemediationError } from '../../../functions/alicloud/fc.ts';
import { handlerOptions } from '../../../functions/alicloud/logstore-encryption/handler.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type AlicloudStsEmulator, startAlicloudSts } from '../../emulator/alicloud-sts.ts';
import { type EcsEmulator, startEcs } from '../../emulator/ecs.ts';
import { AccountDirectory } from '../../emulator/harness.ts';
import { type SlsEmulator, startSls } from '../../emulator/sls.ts';

const CENTRAL = '1234567890123456';
const MEMBERS = ['2000000000000001', '2000000000000002', '2000000000000003'];
const EXCLUDED = '2000000000000009';
const DENIED = '2000000000000008';
const MISSING = '2000000000000007';
const ROLE = 'atrest-member';

const ORG = {
  alicloud: {
    organization: { memberRoleName: ROLE, regions: ['cn-hangzhou'], excludeAccounts: [EXCLUDED] },
    logstoreEncryption: { encryptType: 'default' },
    diskDefaultKms: { kmsKeyId: 'key-central', byRegion: { 'cn-hangzhou': 'key-hz' } },
  },
};
const SOLO = { alicloud: { logstoreEncryption: { encryptType: 'default' } } };

// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON on purpose.
type EventJson = Record<string, any>;
let seq = 0;
const logstoreEvent = (account: string, project: string, logstore: string): EventJson => {
  const e = JSON.parse(
    readFileSync(
      new URL('../../../events/alicloud/logstore-encryption/create-logstore.json', import.meta.url),
      'utf8',
    ),
  );
  seq += 1;
  e.id = `org-${seq}`;
  e.aliyunaccountid = account;
  e.aliyunoriginalaccountid = account;
  e.data.eventId = `trail-${seq}`;
  e.data.userIdentity.accountId = account;
  e.data.requestParameters.ProjectName = project;
  e.data.requestParameters.logstoreName = logstore;
  e.data.referencedResources['ACS::SLS::LogStore'] = [`${project}/${logstore}`];
  return e;
};

let now = Date.now();
const clock = () => now;
const directory = new AccountDirectory(CENTRAL, { now: clock });
let sls: SlsEmulator;
let ecs: EcsEmulator;
let sts: AlicloudStsEmulator;

const context = {
  requestId: 'fc-req',
  credentials: EMULATOR_CREDENTIALS,
  function: { name: 'atrest-logstore-encryption', timeout: 60 },
  region: 'cn-hangzhou',
  accountId: CENTRAL,
};

const env = (config: unknown) => ({
  ATREST_CONFIG_JSON: JSON.stringify(config),
  ALIBABA_CLOUD_ENDPOINT_SLS: sls.url,
  ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
  ALIBABA_CLOUD_ENDPOINT_STS: sts.url,
});

const fc = (config: unknown) =>
  createFcHandler(
    handlerOptions({
      env: env(config),
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {} },
      now: clock,
      log: () => {},
    }),
  );

const invoke = async (fn: ReturnType<typeof fc>, event: unknown): Promise<Outcome[]> => {
  try {
    return await fn(Buffer.from(JSON.stringify(event)), context);
  } catch (error) {
    if (error instanceof FcRemediationError) return error.outcomes;
    throw error;
  }
};

beforeAll(async () => {
  // SLS checks the Date header against real time; the directory's clock (expiry) is the simulated one.
  sls = await startSls({ accounts: directory });
  ecs = await startEcs({ accounts: directory });
  sts = await startAlicloudSts(directory);
  for (const account of [...MEMBERS, EXCLUDED]) sts.seedRole(account, ROLE);
  sts.seedRole(DENIED, ROLE, { deny: true });
  vi.spyOn(console, 'log').mockImplementation(() => {});
});

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all([sls.stop(), ecs.stop(), sts.stop()]);
});

beforeEach(() => {
  sls.service.resetLog();
  ecs.service.resetLog();
  sts.service.resetLog();
});

describe('FC adapter, Resource Directory member accounts', () => {
  it('processes three accounts with their own assumed credentials, each writing only its own state', async () => {
    const fn = fc(ORG);
    sls.state.seedLogstore('shared-project', 'access-log');
    for (const account of MEMBERS) sls.states.of(account).seedLogstore('shared-project', 'access-log');

    const outcomes: Outcome[] = [];
    for (const account of MEMBERS)
      outcomes.push(...(await invoke(fn, logstoreEvent(account, 'shared-project', 'access-log'))));

    expect(outcomes.map((o) => [o.account, o.outcome])).toEqual(MEMBERS.map((a) => [a, 'applied']));
    for (const account of MEMBERS) {
      expect(sls.states.of(account).logstore('shared-project', 'access-log')?.encrypt_conf).toEqual({
        enable: true,
        encrypt_type: 'default',
      });
      expect(sls.service.count({ action: 'UpdateLogStoreEncryption', account, ok: true })).toBe(1);
      expect(sts.service.count({ action: 'AssumeRole', account })).toBe(1);
    }
    expect(sls.state.logstore('shared-project', 'access-log')?.encrypt_conf).toBeUndefined();
    expect(sls.service.count({ account: CENTRAL })).toBe(0);
  });

  it('refreshes expired credentials: the old key is refused after expiry, a new AssumeRole is made', async () => {
    const fn = fc(ORG);
    const [account = ''] = MEMBERS;
    const state = sls.states.of(account);
    state.seedLogstore('refresh', 'one');
    state.seedLogstore('refresh', 'two');

    await invoke(fn, logstoreEvent(account, 'refresh', 'one'));
    now += 2 * 60 * 60_000; // two hours: the hour-long credentials have expired
    const [second] = await invoke(fn, logstoreEvent(account, 'refresh', 'two'));

    expect(second).toMatchObject({ account, outcome: 'applied' });
    expect(sts.service.count({ action: 'AssumeRole', account })).toBe(2);
    expect(sls.service.count({ ok: false })).toBe(0);
  });

  it('an excluded account ends `excluded`; no STS call, no SLS call', async () => {
    const fn = fc(ORG);
    const [outcome] = await invoke(fn, logstoreEvent(EXCLUDED, 'excluded-project', 'logs'));

    expect(outcome).toMatchObject({ account: EXCLUDED, outcome: 'excluded' });
    expect(sts.service.calls).toHaveLength(0);
    expect(sls.service.calls).toHaveLength(0);
  });

  it.each([
    ['trust policy does not name us', DENIED, 'NoPermission'],
    ['no such role', MISSING, 'EntityNotExist.Role'],
  ])('AssumeRole refused (%s) → `failed` with STS code and request id', async (_, account, code) => {
    const fn = fc(ORG);
    const thrown = await fn(
      Buffer.from(JSON.stringify(logstoreEvent(account, 'refused-project', 'logs'))),
      context,
    ).catch((e: unknown) => e);

    expect(thrown).toBeInstanceOf(FcRemediationError);
    const [outcome] = (thrown as FcRemediationError).outcomes;
    expect(outcome).toMatchObject({ account, outcome: 'failed', error: { code } });
    expect(outcome?.error?.requestId).toMatch(/^emu-/);
    expect(sls.service.calls).toHaveLength(0);
  });

  it('account-level ECS defaults: a member account’s event changes that account’s default key only', async () => {
    const [account = ''] = MEMBERS;
    ecs.states.of(account).seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'old' });
    ecs.states.of(account).seedKey('cn-hangzhou', 'key-hz');
    ecs.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'central-old' });
    ecs.state.seedKey('cn-hangzhou', 'key-hz');
    const fn = createFcHandler(
      diskOptions({
        env: env(ORG),
        store: new MemoryIdempotencyStore(),
        engine: { sleep: async () => {} },
        now: clock,
        log: () => {},
      }),
    );
    const event = JSON.parse(
      readFileSync(
        new URL(
          '../../../events/alicloud/disk-default-kms/modify-disk-default-kms-key-id.json',
          import.meta.url,
        ),
        'utf8',
      ),
    );
    event.id = 'ecs-org-1';
    event.aliyunaccountid = account;
    event.data.userIdentity.accountId = account;

    const outcomes = await fn(Buffer.from(JSON.stringify(event)), context);

    expect(outcomes).toMatchObject([{ account, outcome: 'applied' }]);
    expect(ecs.states.of(account).region('cn-hangzhou').kmsKeyId).toBe('key-hz');
    expect(ecs.state.region('cn-hangzhou').kmsKeyId).toBe('central-old');
  });
});

describe('FC adapter, a single account (no organization section)', () => {
  it('an event from another account ends `ignored` naming it, and nothing is written anywhere', async () => {
    const fn = fc(SOLO);
    const [foreign = ''] = MEMBERS;
    sls.state.seedLogstore('solo', 'same');
    sls.states.of(foreign).seedLogstore('solo', 'same');

    const [outcome] = await invoke(fn, logstoreEvent(foreign, 'solo', 'same'));

    expect(outcome).toMatchObject({ account: foreign, outcome: 'ignored' });
    expect(outcome?.reason).toContain(foreign);
    expect(sls.service.calls).toHaveLength(0);
    expect(sts.service.calls).toHaveLength(0);
    expect(sls.state.logstore('solo', 'same')?.encrypt_conf).toBeUndefined();
    expect(sls.states.of(foreign).logstore('solo', 'same')?.encrypt_conf).toBeUndefined();
  });

  it('its own account is processed with the context credentials, as before', async () => {
    const fn = fc(SOLO);
    sls.state.seedLogstore('solo', 'own');

    const [outcome] = await invoke(fn, logstoreEvent(CENTRAL, 'solo', 'own'));

    expect(outcome).toMatchObject({ account: CENTRAL, outcome: 'applied' });
    expect(sls.service.count({ action: 'UpdateLogStoreEncryption', account: CENTRAL, ok: true })).toBe(1);
  });
});
