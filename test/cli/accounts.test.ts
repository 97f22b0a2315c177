/**
 * `atrest replay` knows whose account it is: STS GetCallerIdentity once per run; another account's
 * event is `ignored` without `aws.organization`, and processed with the member role's credentials
 * with it (AssumeRole once per account per run).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { AccountDirectory, type EmulatedService } from '../emulator/harness.ts';
import { type StsEmulator, startSts } from '../emulator/sts.ts';
import { captureIo, outcomesOf, writeConfig, writeEvents } from './helpers.ts';

const CENTRAL = '111122223333';
const MEMBER = '222233334444';
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const directory = new AccountDirectory(CENTRAL);
let logs: EmulatedService;
let central: CloudWatchLogsState;
let memberState: CloudWatchLogsState;
let sts: StsEmulator;
let cwStateOf: (account: string, region: string) => CloudWatchLogsState;

const event = (account: string, name: string, i: number) => {
  const e = JSON.parse(
    readFileSync(new URL('../../events/aws/log-group-kms/create-log-group.json', import.meta.url), 'utf8'),
  );
  e.id = `cli-${account}-${i}`;
  e.account = account;
  e.detail.recipientAccountId = account;
  e.detail.eventID = `cli-trail-${account}-${i}`;
  e.detail.requestParameters.logGroupName = name;
  return e;
};

beforeAll(async () => {
  const cw = await startCloudWatchLogs({ accounts: directory });
  logs = cw.service;
  central = cw.state.seedKey(KEY);
  memberState = cw.stateOf(MEMBER, 'us-east-1').seedKey(KEY);
  cwStateOf = cw.stateOf;
  sts = await startSts(directory);
  sts.seedRole(MEMBER, 'atrest-member');
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = logs.url;
  process.env.AWS_ENDPOINT_URL_STS = sts.url;
  process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_STS;
  await Promise.all([logs.stop(), sts.stop()]);
});
beforeEach(() => {
  logs.resetLog();
  sts.service.resetLog();
});

describe('atrest replay across accounts', () => {
  it('without aws.organization: own events applied, another account’s ignored naming it; one GetCallerIdentity', async () => {
    central.seedLogGroup('/cli/own');
    memberState.seedLogGroup('/cli/theirs');
    const file = writeEvents('mixed.json', [
      event(CENTRAL, '/cli/own', 1),
      event(MEMBER, '/cli/theirs', 2),
      event(CENTRAL, '/cli/own-gone', 3),
    ]);
    const io = captureIo({
      ...process.env,
      ATREST_CONFIG: writeConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } } }),
    });

    const code = await main(['replay', file], io);

    const out = outcomesOf(io);
    expect(code).toBe(0);
    expect(out.map((o) => [o.account, o.outcome])).toEqual([
      [CENTRAL, 'applied'],
      [MEMBER, 'ignored'],
      [CENTRAL, 'gone'],
    ]);
    expect(out[1]?.reason).toContain(MEMBER);
    expect(memberState.logGroup('/cli/theirs')?.kmsKeyId).toBeUndefined();
    expect(sts.service.count({ action: 'GetCallerIdentity' })).toBe(1);
    expect(sts.service.count({ action: 'AssumeRole' })).toBe(0);
  });

  it('with aws.organization: the member’s event is written with its assumed role, in its account', async () => {
    memberState.seedLogGroup('/cli/org-1').seedLogGroup('/cli/org-2');
    const file = writeEvents('org.json', [event(MEMBER, '/cli/org-1', 4), event(MEMBER, '/cli/org-2', 5)]);
    const config = writeConfig({
      aws: {
        organization: { memberRoleName: 'atrest-member', regions: ['us-east-1'] },
        logGroupKms: { kmsKeyArn: KEY },
      },
    });
    const io = captureIo({ ...process.env, ATREST_CONFIG: config });

    const code = await main(['replay', file], io);

    expect(code).toBe(0);
    expect(outcomesOf(io).map((o) => [o.account, o.outcome])).toEqual([
      [MEMBER, 'applied'],
      [MEMBER, 'applied'],
    ]);
    expect(memberState.logGroup('/cli/org-2')?.kmsKeyId).toBe(KEY);
    expect(logs.count({ action: 'AssociateKmsKey', account: MEMBER, ok: true })).toBe(2);
    expect(sts.service.count({ action: 'AssumeRole', account: MEMBER })).toBe(1);
  });
});

describe('atrest sweep --org with the member roles (Organizations ListAccounts, STS AssumeRole)', () => {
  it('lists every account, assumes each member role once, and writes only in each account’s own state', async () => {
    const { OrganizationsEmulator } = await import('../emulator/organizations.ts');
    const OTHER = '333344445555';
    sts.seedRole(OTHER, 'atrest-member');
    const other = cwStateOf(OTHER, 'us-east-1').seedKey(KEY);
    const org = new OrganizationsEmulator([{ id: CENTRAL }, { id: MEMBER }, { id: OTHER }], {
      secrets: directory.awsSecrets,
    });
    await org.start();
    try {
      central.seedLogGroup('/org/sweep-central');
      memberState.seedLogGroup('/org/sweep-member');
      other.seedLogGroup('/org/sweep-other');
      const config = writeConfig({
        aws: {
          organization: { memberRoleName: 'atrest-member', regions: ['us-east-1'] },
          logGroupKms: { kmsKeyArn: KEY },
        },
      });
      process.env.AWS_ENDPOINT_URL_ORGANIZATIONS = org.url;
      // A checkpoint of its own: an org-wide sweep resumes from the default folder otherwise.
      const checkpoints = mkdtempSync(join(tmpdir(), 'atrest-org-checkpoints-'));
      const io = captureIo({ ...process.env, ATREST_CONFIG: config, ATREST_CHECKPOINT_DIR: checkpoints });

      const code = await main(['sweep', 'aws.log-group-kms', '--org', '--rate', '1000'], io);

      const applied = outcomesOf(io).filter(
        (o) => o.outcome === 'applied' && o.resource.includes('/org/sweep-'),
      );
      expect(code, io.stderr.join('\n')).toBe(0);
      expect(applied.map((o) => o.account).sort()).toEqual([CENTRAL, MEMBER, OTHER]);
      expect(memberState.logGroup('/org/sweep-member')?.kmsKeyId).toBe(KEY);
      expect(other.logGroup('/org/sweep-other')?.kmsKeyId).toBe(KEY);
      expect(logs.count({ action: 'AssociateKmsKey', account: OTHER, ok: true })).toBeGreaterThanOrEqual(1);
      expect(sts.service.count({ action: 'AssumeRole', account: OTHER })).toBe(1);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_ORGANIZATIONS;
      await org.stop();
    }
  });
});
