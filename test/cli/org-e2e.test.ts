/**
 * `atrest report --org` end to end with the runtime's own account access: the caller's account
 * from STS GetCallerIdentity, 19 members through STS AssumeRole of the member role, each account's
 * own state in the CloudWatch Logs emulator (selected by the credentials), 2 regions — no seam
 * injected, as the CLI runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import type { ReportLine } from '../../functions/cli/report.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { AccountDirectory, type EmulatedService } from '../emulator/harness.ts';
import { OrganizationsEmulator } from '../emulator/organizations.ts';
import { type StsEmulator, startSts } from '../emulator/sts.ts';
import { captureIo, writeConfig } from './helpers.ts';

const CENTRAL = '111122223333';
const MEMBERS = Array.from({ length: 19 }, (_, i) => `3000000000${String(i).padStart(2, '0')}`);
const ACCOUNTS = [CENTRAL, ...MEMBERS];
const REGIONS = ['us-east-1', 'eu-west-1'];
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const EU_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/5678abcd-12ab-34cd-56ef-1234567890ab';

const directory = new AccountDirectory(CENTRAL);
let logs: EmulatedService;
let stateOf: (account: string, region: string) => CloudWatchLogsState;
let sts: StsEmulator;
let org: OrganizationsEmulator;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  const cw = await startCloudWatchLogs({ accounts: directory });
  logs = cw.service;
  stateOf = cw.stateOf;
  sts = await startSts(directory);
  org = new OrganizationsEmulator(
    ACCOUNTS.map((id) => ({ id })),
    { secrets: directory.awsSecrets },
  );
  await org.start();
  for (const member of MEMBERS) sts.seedRole(member, 'atrest-member');
  // Each account-region: one group without the key; every other member also one with it. (The
  // emulator keeps one state for the caller's own account across regions: it gets the plain group only.)
  for (const [i, account] of ACCOUNTS.entries())
    for (const region of REGIONS) {
      const s = stateOf(account, region).seedKey(KEY).seedKey(EU_KEY);
      s.seedLogGroup(`/e2e/${account}/plain`);
      if (account !== CENTRAL && i % 2 === 0)
        s.seedLogGroup(`/e2e/${account}/good`, region === 'eu-west-1' ? EU_KEY : KEY);
    }
  const env = {
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_ENDPOINT_URL_ORGANIZATIONS: org.url,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await Promise.all([logs.stop(), sts.stop(), org.stop()]);
});

describe('atrest report --org, 20 accounts × 2 regions, through STS', () => {
  it('reads every account-region with that account’s own credentials; one AssumeRole per member; nothing written', async () => {
    const config = writeConfig({
      aws: {
        organization: { memberRoleName: 'atrest-member', regions: REGIONS },
        logGroupKms: { kmsKeyArn: KEY, byRegion: { 'eu-west-1': EU_KEY } },
      },
    });
    const io = captureIo({
      ...process.env,
      ATREST_CONFIG: config,
      ATREST_CHECKPOINT_DIR: mkdtempSync(join(tmpdir(), 'atrest-org-e2e-')),
    });

    const code = await main(['report', '--org', '--format', 'ndjson', '--rate', '10000'], io);

    const lines = io.stdout.map((l) => JSON.parse(l) as ReportLine);
    expect(code, io.stderr.join('\n')).toBe(1);
    expect(lines.filter((l) => l.status === 'error')).toEqual([]);
    // 20 accounts × 2 regions × 1 plain group, and 9 members × 2 regions × 1 good group.
    expect(lines.filter((l) => l.status === 'noncompliant')).toHaveLength(40);
    expect(lines.filter((l) => l.status === 'compliant')).toHaveLength(18);
    // Every line is the state of the account it names: a resource of account A never shows up under B.
    expect(lines.every((l) => l.resource.includes(`:${l.account}:log-group:/e2e/${l.account}/`))).toBe(true);
    expect(new Set(lines.map((l) => `${l.account} ${l.region}`)).size).toBe(40);
    expect(logs.count({ write: true })).toBe(0);
    for (const member of MEMBERS)
      expect(sts.service.count({ action: 'AssumeRole', account: member })).toBe(1);
    expect(sts.service.count({ action: 'AssumeRole', account: CENTRAL })).toBe(0);
  });
});
