/**
 * aws.log-group-kms across accounts, through the deployed Lambda handler: idempotency in DynamoDB
 * (dynalite, Powertools), STS and CloudWatch Logs emulated at the wire, one AccountDirectory
 * deciding which account each access key belongs to. Every write must land in the event's
 * account's state, made with that account's assumed-role credentials (CONTRACT.md section 7).
 */
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Outcome } from '#core/outcome';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../../../emulator/cloudwatch-logs.ts';
import { type RunningDynalite, startDynalite } from '../../../emulator/dynalite.ts';
import { AccountDirectory, type EmulatedService } from '../../../emulator/harness.ts';
import { type StsEmulator, startSts } from '../../../emulator/sts.ts';

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

const CENTRAL = '111122223333';
const MEMBERS = ['222233334444', '333344445555', '444455556666'];
const EXCLUDED = '555566667777';
const DENIED = '666677778888';
const ROLE = 'atrest-member';
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const ORG_CONFIG = {
  aws: {
    organization: { memberRoleName: ROLE, regions: ['us-east-1'], excludeAccounts: [EXCLUDED] },
    logGroupKms: { kmsKeyArn: KEY },
  },
};
const SOLO_CONFIG = { aws: { logGroupKms: { kmsKeyArn: KEY } } };

// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON on purpose.
type EventJson = Record<string, any>;
let seq = 0;
const eventFor = (account: string, name: string): EventJson => {
  const e = JSON.parse(
    readFileSync(
      new URL('../../../../events/aws/log-group-kms/create-log-group.json', import.meta.url),
      'utf8',
    ),
  );
  seq += 1;
  e.id = `org-${seq}-1111-4222-8333-444444444444`;
  e.account = account;
  e.detail.recipientAccountId = account;
  e.detail.eventID = `trail-${seq}`;
  e.detail.requestParameters.logGroupName = name;
  return e;
};

let now = Date.parse('2026-11-28T08:00:00Z');
const clock = () => now;
const directory = new AccountDirectory(CENTRAL, { now: clock });
let logs: EmulatedService;
let stateOf: (account: string, region: string) => CloudWatchLogsState;
let centralState: CloudWatchLogsState;
let sts: StsEmulator;
let db: RunningDynalite;

const context = (): Context =>
  ({
    functionName: 'atrest-log-group-kms',
    awsRequestId: `req-${seq}`,
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${CENTRAL}:function:atrest-log-group-kms`,
    memoryLimitInMB: '256',
    getRemainingTimeInMillis: () => 60_000,
  }) as unknown as Context;

const lambda = (config: unknown) =>
  createHandler({
    env: {
      ATREST_CONFIG_JSON: JSON.stringify(config),
      IDEMPOTENCY_TABLE_NAME: db.tableName,
      AWS_REGION: 'us-east-1',
    },
    logger: new Logger({ serviceName: 'atrest', logLevel: 'SILENT' }),
    engine: { sleep: async () => {} },
    clock,
  });

const invoke = async (fn: ReturnType<typeof lambda>, event: unknown): Promise<Outcome[]> => {
  try {
    return await fn(event, context());
  } catch (error) {
    if (error instanceof UnsettledOutcomeError) return [...error.outcomes];
    throw error;
  }
};

beforeAll(async () => {
  const cw = await startCloudWatchLogs({ accounts: directory });
  logs = cw.service;
  centralState = cw.state;
  stateOf = cw.stateOf;
  sts = await startSts(directory);
  for (const account of [...MEMBERS, EXCLUDED]) sts.seedRole(account, ROLE);
  sts.seedRole(DENIED, ROLE, { deny: true });
  db = await startDynalite();
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', logs.url);
  vi.stubEnv('AWS_ENDPOINT_URL_STS', sts.url);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_REGION', 'us-east-1');
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([logs.stop(), sts.stop(), db.stop()]);
});

beforeEach(() => {
  logs.resetLog();
  sts.service.resetLog();
});

const member = (account: string) => stateOf(account, 'us-east-1').seedKey(KEY);

describe('an organization: events from member accounts', () => {
  it('processes each account with its own assumed credentials, writing only to that account', async () => {
    const fn = lambda(ORG_CONFIG);
    for (const account of MEMBERS) member(account).seedLogGroup('/app/shared-name');
    centralState.seedKey(KEY).seedLogGroup('/app/shared-name');

    const outcomes: Outcome[] = [];
    for (const account of MEMBERS)
      outcomes.push(...(await invoke(fn, eventFor(account, '/app/shared-name'))));

    expect(outcomes.map((o) => [o.account, o.outcome])).toEqual(MEMBERS.map((a) => [a, 'applied']));
    for (const account of MEMBERS) {
      expect(member(account).logGroup('/app/shared-name')?.kmsKeyId).toBe(KEY);
      // Every write for this account was made with a key the emulator maps to this account.
      expect(logs.count({ action: 'AssociateKmsKey', account, ok: true })).toBe(1);
    }
    // The central account's same-named group was never touched.
    expect(centralState.logGroup('/app/shared-name')?.kmsKeyId).toBeUndefined();
    expect(logs.count({ action: 'AssociateKmsKey', account: CENTRAL })).toBe(0);
    // One AssumeRole per account.
    for (const account of MEMBERS) expect(sts.service.count({ action: 'AssumeRole', account })).toBe(1);
  });

  it('reuses the cached credentials until shortly before they expire, then assumes the role again', async () => {
    const fn = lambda(ORG_CONFIG);
    const [account = ''] = MEMBERS;
    member(account).seedLogGroup('/refresh/one').seedLogGroup('/refresh/two').seedLogGroup('/refresh/three');

    await invoke(fn, eventFor(account, '/refresh/one'));
    now += 30 * 60_000; // half the credentials' hour: still cached
    await invoke(fn, eventFor(account, '/refresh/two'));
    expect(sts.service.count({ action: 'AssumeRole', account })).toBe(1);

    now += 60 * 60_000; // past expiry: the old key is refused by the emulator from now on
    const [third] = await invoke(fn, eventFor(account, '/refresh/three'));

    expect(third).toMatchObject({ account, outcome: 'applied' });
    expect(member(account).logGroup('/refresh/three')?.kmsKeyId).toBe(KEY);
    expect(sts.service.count({ action: 'AssumeRole', account })).toBe(2);
    expect(logs.count({ ok: false })).toBe(0);
  });

  it('an excluded account ends `excluded`, with no STS call and no read', async () => {
    const fn = lambda(ORG_CONFIG);
    member(EXCLUDED).seedLogGroup('/excluded/group');

    const [outcome] = await invoke(fn, eventFor(EXCLUDED, '/excluded/group'));

    expect(outcome).toMatchObject({ account: EXCLUDED, outcome: 'excluded' });
    expect(outcome?.reason).toContain(EXCLUDED);
    expect(sts.service.calls).toHaveLength(0);
    expect(logs.calls).toHaveLength(0);
  });

  it('AssumeRole denied → `failed` with the STS error code and request id; nothing written', async () => {
    const fn = lambda(ORG_CONFIG);
    const thrown = await fn(eventFor(DENIED, '/denied/group'), context()).catch((e: unknown) => e);

    expect(thrown).toBeInstanceOf(UnsettledOutcomeError);
    const [outcome] = (thrown as InstanceType<typeof UnsettledOutcomeError>).outcomes;
    expect(outcome).toMatchObject({ account: DENIED, outcome: 'failed', error: { code: 'AccessDenied' } });
    expect(outcome?.error?.requestId).toMatch(/^emu-/);
    expect(outcome?.error?.message).toContain(`arn:aws:iam::${DENIED}:role/${ROLE}`);
    expect(logs.calls).toHaveLength(0);
  });
});

describe('a single account: no organization section', () => {
  it('an event from another account ends `ignored`, naming it, and nothing is written anywhere', async () => {
    const fn = lambda(SOLO_CONFIG);
    const [foreign = ''] = MEMBERS;
    centralState.seedKey(KEY).seedLogGroup('/solo/same-name');
    member(foreign).seedLogGroup('/solo/same-name');

    const [outcome] = await invoke(fn, eventFor(foreign, '/solo/same-name'));

    expect(outcome).toMatchObject({ account: foreign, outcome: 'ignored' });
    expect(outcome?.reason).toContain(foreign);
    expect(logs.calls).toHaveLength(0);
    expect(sts.service.calls).toHaveLength(0);
    expect(centralState.logGroup('/solo/same-name')?.kmsKeyId).toBeUndefined();
    expect(member(foreign).logGroup('/solo/same-name')?.kmsKeyId).toBeUndefined();
  });

  it('its own account is processed with its own credentials, as before', async () => {
    const fn = lambda(SOLO_CONFIG);
    centralState.seedKey(KEY).seedLogGroup('/solo/own');

    const [outcome] = await invoke(fn, eventFor(CENTRAL, '/solo/own'));

    expect(outcome).toMatchObject({ account: CENTRAL, outcome: 'applied' });
    expect(logs.count({ action: 'AssociateKmsKey', account: CENTRAL, ok: true })).toBe(1);
    expect(sts.service.calls).toHaveLength(0);
  });
});
