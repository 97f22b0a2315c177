/**
 * Org-wide `atrest report` and `atrest sweep` (CONTRACT.md sections 7 and 8): 20 AWS accounts × 2
 * regions listed through Organizations ListAccounts (real SDK, SigV4-checked fake), each
 * account-region its own CloudWatch Logs emulator reached through its own client — the stand-in
 * for the runtime's per-account AssumeRole credentials until the emulator keeps per-account state.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRemediator } from '../../functions/aws/log-group-kms/remediator.ts';
import { main } from '../../functions/cli/main.ts';
import {
  type AccountAccess,
  AccountAccessError,
  listAlicloudAccounts,
  listAwsAccounts,
} from '../../functions/cli/org.ts';
import type { ReportLine } from '../../functions/cli/report.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { type EcsEmulator, startEcs } from '../emulator/ecs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { type OrgAccount, OrganizationsEmulator } from '../emulator/organizations.ts';
import { type DirectoryAccount, ResourceDirectoryEmulator } from '../emulator/resourcemanager.ts';
import { captureIo, countBy, outcomesOf, writeConfig } from './helpers.ts';

const REGIONS = ['us-east-1', 'eu-west-1'] as const;
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const EU_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/5678abcd-12ab-34cd-56ef-1234567890ab';
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `2000000000${String(i).padStart(2, '0')}`);
const EXCLUDED = '999999999999';
const SUSPENDED = '888888888888';
const OWN = ACCOUNTS[0] as string;

interface Cell {
  service: EmulatedService;
  state: CloudWatchLogsState;
  client: CloudWatchLogsClient;
}
const cells = new Map<string, Cell>();
const cell = (account: string, region: string): Cell => {
  const c = cells.get(`${account}|${region}`);
  if (!c) throw new Error(`no emulator for ${account} ${region}`);
  return c;
};
let organizations: OrganizationsEmulator;

const orgConfig = {
  aws: {
    organization: { memberRoleName: 'atrest-member', regions: [...REGIONS], excludeAccounts: [EXCLUDED] },
    logGroupKms: { kmsKeyArn: KEY, byRegion: { 'eu-west-1': EU_KEY }, exclude: ['^/excluded/'] },
  },
};
const noOrgConfig = { aws: { logGroupKms: orgConfig.aws.logGroupKms } };

beforeAll(async () => {
  const listed: OrgAccount[] = [
    ...ACCOUNTS.map((id) => ({ id, status: 'ACTIVE' as const })),
    { id: EXCLUDED, status: 'ACTIVE' },
    { id: SUSPENDED, status: 'SUSPENDED' },
  ];
  organizations = new OrganizationsEmulator(listed);
  await organizations.start();
  process.env.AWS_ENDPOINT_URL_ORGANIZATIONS = organizations.url;
  process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
  await Promise.all(
    [...ACCOUNTS, EXCLUDED].flatMap((account) =>
      REGIONS.map(async (region) => {
        const { service, state } = await startCloudWatchLogs({ region, account });
        const client = new CloudWatchLogsClient({
          region,
          endpoint: service.url,
          credentials: DUMMY_CREDENTIALS,
          maxAttempts: 1,
        });
        cells.set(`${account}|${region}`, { service, state, client });
      }),
    ),
  );
});
afterAll(async () => {
  await organizations.stop();
  await Promise.all([...cells.values()].map((c) => c.service.stop()));
});

/** Each account-region: 2 groups without the key, 1 with it, 1 excluded by name. */
beforeEach(() => {
  organizations.service.resetLog();
  for (const [key, c] of cells) {
    const region = key.split('|')[1];
    for (const name of c.state.names()) c.state.delete(name);
    c.service.resetLog();
    c.service.clearFaults();
    const regionKey = region === 'eu-west-1' ? EU_KEY : KEY;
    c.state.seedKey(regionKey);
    c.state.seedLogGroup('/app/plain/a');
    c.state.seedLogGroup('/app/plain/b');
    c.state.seedLogGroup('/app/good', regionKey);
    c.state.seedLogGroup('/excluded/x');
  }
});

/** Per-account access as the runtime will give it: a remediator whose client reaches only that account-region. */
function testAccess(
  options: { onRemediator?: (account: string, region: string) => void } = {},
): AccountAccess {
  return {
    ownAccount: async () => OWN,
    async remediator(_id, account, region) {
      options.onRemediator?.(account, region);
      const c = cell(account, region);
      return createRemediator({ accountId: account, client: () => c.client });
    },
  };
}

const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  ATREST_CHECKPOINT_DIR: mkdtempSync(join(tmpdir(), 'atrest-checkpoint-')),
  ...extra,
});

const writes = () => [...cells.values()].reduce((n, c) => n + c.service.count({ write: true }), 0);

describe('account listing', () => {
  it('AWS Organizations ListAccounts: every active account over two pages, suspended ones left out', async () => {
    const accounts = await listAwsAccounts(process.env);

    expect(accounts).toEqual([...ACCOUNTS, EXCLUDED]);
    expect(organizations.service.count({ action: 'ListAccounts', ok: true })).toBe(2);
  });

  it('Resource Directory ListAccounts (RPC 2020-03-31, ACS3-signed): members over pages of 100, unfinished ones left out', async () => {
    const members: DirectoryAccount[] = Array.from({ length: 150 }, (_, i) => ({
      id: `15000000000${String(i).padStart(5, '0')}`,
      status: i === 7 ? 'CreateVerifying' : i % 2 ? 'InviteSuccess' : 'CreateSuccess',
    }));
    const rd = new ResourceDirectoryEmulator(members);
    await rd.start();
    try {
      const accounts = await listAlicloudAccounts({
        ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
        ALIBABA_CLOUD_ENDPOINT_RESOURCEMANAGER: rd.url,
      });

      expect(accounts).toHaveLength(149);
      expect(accounts).not.toContain(members[7]?.id);
      expect(rd.service.count({ action: 'ListAccounts', ok: true })).toBe(2);
    } finally {
      await rd.stop();
    }
  });

  it('a refused listing ends the run with exit 1, the service code and request id on stderr, nothing read', async () => {
    organizations.service.failNext('ListAccounts', { status: 400, code: 'AccessDeniedException', times: 1 });
    const io = captureIo(env());

    const code = await main(['report', '--org', '--config', writeConfig(orgConfig)], io, {
      access: testAccess(),
    });

    expect(code).toBe(1);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(
      /Organizations ListAccounts: AccessDeniedException.*request id emu-/,
    );
  });
});

describe('atrest report --org (20 accounts × 2 regions)', () => {
  it('one line per resource of every member account-region, nothing written, exit 1 for the noncompliant ones', async () => {
    const io = captureIo(env());

    const code = await main(['report', '--org', '--config', writeConfig(orgConfig), '--rate', '10000'], io, {
      access: testAccess(),
    });

    const lines = io.stdout.map((l) => JSON.parse(l) as ReportLine);
    expect(code).toBe(1);
    expect(lines).toHaveLength(20 * 2 * 4);
    expect(new Set(lines.map((l) => l.account))).toEqual(new Set(ACCOUNTS));
    expect(countBy(lines.map((l) => ({ outcome: l.status })) as never)).toEqual({
      noncompliant: 80,
      compliant: 40,
      excluded: 40,
    });
    // Each line names the account its resource lives in, and the key of its region.
    const eu = lines.find(
      (l) => l.account === ACCOUNTS[7] && l.region === 'eu-west-1' && l.status === 'noncompliant',
    );
    expect(eu).toMatchObject({
      function: 'aws.log-group-kms',
      resource: `arn:aws:logs:eu-west-1:${ACCOUNTS[7]}:log-group:/app/plain/a`,
      current: 'none',
      desired: EU_KEY,
    });
    expect(writes()).toBe(0);
    expect(cell(EXCLUDED, 'us-east-1').service.count()).toBe(0);
    expect(io.stderr.filter((l) => /^atrest: report \d+\/40 /.test(l))).toHaveLength(40);
    expect(io.stderr.at(-1)).toMatch(
      /^atrest: report: 160 resource\(s\): 40 compliant, 80 noncompliant, 40 excluded, 0 error/,
    );
  });

  it('as a table: ends with totals per function, account and region', async () => {
    const io = captureIo(env());
    io.outTty = true;

    await main(['report', '--org', '--config', writeConfig(orgConfig), '--rate', '10000'], io, {
      access: testAccess(),
    });

    const text = io.stdout.join('\n');
    expect(io.stdout[0]).toMatch(/^FUNCTION\s+ACCOUNT\s+REGION\s+STATUS\s+RESOURCE/);
    expect(text).toMatch(/^aws\.log-group-kms\s+40\s+80\s+40\s+0\s+160$/m);
    for (const account of ACCOUNTS)
      expect(text).toMatch(new RegExp(`^${account}\\s+2\\s+4\\s+2\\s+0\\s+8$`, 'm'));
    expect(text).toMatch(/^eu-west-1\s+20\s+40\s+20\s+0\s+80$/m);
    expect(io.stdout.at(-1)).toBe(
      'total: 160 resource(s): 40 compliant, 80 noncompliant, 40 excluded, 0 error',
    );
  });

  it('a member whose role cannot be assumed gives an error line per region with the code; the others are read; a rerun reads only it', async () => {
    const denied = ACCOUNTS[3] as string;
    const base = testAccess();
    let deny = true;
    const access: AccountAccess = {
      ...base,
      remediator: async (id, account, region) => {
        if (deny && account === denied)
          throw new AccountAccessError(`AssumeRole ${account}: not authorized`, 'AccessDenied', {
            requestId: 'req-1',
          });
        return base.remediator(id, account, region);
      },
    };
    const runEnv = env();
    const config = writeConfig(orgConfig);
    const io = captureIo(runEnv);

    const code = await main(['report', '--org', '--config', config, '--rate', '10000'], io, { access });

    const lines = io.stdout.map((l) => JSON.parse(l) as ReportLine);
    expect(code).toBe(1);
    expect(lines.filter((l) => l.status === 'error')).toEqual(
      REGIONS.map((region) =>
        expect.objectContaining({
          account: denied,
          region,
          resource: '',
          error: expect.objectContaining({ code: 'AccessDenied', requestId: 'req-1' }),
        }),
      ),
    );
    expect(lines.filter((l) => l.status !== 'error')).toHaveLength(19 * 2 * 4);

    deny = false;
    for (const c of cells.values()) c.service.resetLog();
    const again = captureIo(runEnv);
    const second = await main(['report', '--org', '--config', config, '--rate', '10000'], again, { access });

    expect(second).toBe(1);
    expect(again.stdout).toHaveLength(160);
    const read = [...cells].filter(([, c]) => c.service.count() > 0).map(([k]) => k);
    expect(read.sort()).toEqual(REGIONS.map((r) => `${denied}|${r}`).sort());
    expect(again.stderr.join('\n')).toMatch(/resuming: 38 of 40 account-region\(s\) already read/);
  });
});

describe('atrest sweep --org (20 accounts × 2 regions)', () => {
  it('remediates every member account-region with its own client and ends with totals per account and region', async () => {
    const io = captureIo(env());

    const code = await main(
      ['sweep', 'aws.log-group-kms', '--org', '--config', writeConfig(orgConfig), '--rate', '10000'],
      io,
      {
        access: testAccess(),
      },
    );

    const outcomes = outcomesOf(io);
    expect(code).toBe(0);
    expect(countBy(outcomes)).toEqual({ applied: 80, compliant: 40, excluded: 40 });
    for (const account of ACCOUNTS)
      for (const region of REGIONS) {
        expect(cell(account, region).state.logGroup('/app/plain/b')?.kmsKeyId).toBe(
          region === 'eu-west-1' ? EU_KEY : KEY,
        );
        expect(outcomes.filter((o) => o.account === account && o.region === region)).toHaveLength(4);
      }
    expect(cell(EXCLUDED, 'us-east-1').state.logGroup('/app/plain/a')?.kmsKeyId).toBeUndefined();
    expect(
      io.stderr.filter((l) =>
        /^atrest: totals account \d{12}: 4 applied, 2 compliant, 2 excluded; 4 write\(s\)$/.test(l),
      ),
    ).toHaveLength(20);
    expect(io.stderr).toContain(
      'atrest: totals region eu-west-1: 40 applied, 20 compliant, 20 excluded; 40 write(s)',
    );
    expect(io.stderr).toContain(
      'atrest: totals: 40 account-region(s): 80 applied, 40 compliant, 40 excluded; 80 write(s)',
    );
  });

  it('resumes after the process dies mid-run: finished account-regions are not touched again, totals cover all', async () => {
    const runEnv = env();
    const config = writeConfig(orgConfig);
    // The process dies as the 13th account-region starts: 12 records on disk, nothing else, as a
    // kill leaves it (the stderr sink throwing stands in for the signal; nothing catches it).
    const dying = captureIo(runEnv);
    dying.err = (line) => {
      if (line.includes('(13/40)')) throw new Error('SIGKILL');
    };
    await expect(
      main(['sweep', 'aws.log-group-kms', '--org', '--config', config, '--rate', '10000'], dying, {
        access: testAccess(),
      }),
    ).rejects.toThrow('SIGKILL');
    const [file] = readdirSync(runEnv.ATREST_CHECKPOINT_DIR);
    expect(
      readFileSync(join(runEnv.ATREST_CHECKPOINT_DIR, file as string), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(12);
    expect(writes()).toBe(24);
    for (const c of cells.values()) c.service.resetLog();

    const io = captureIo(runEnv);
    const code = await main(
      ['sweep', 'aws.log-group-kms', '--org', '--config', config, '--rate', '10000'],
      io,
      {
        access: testAccess(),
      },
    );

    expect(code).toBe(0);
    expect(io.stderr.join('\n')).toMatch(
      /resuming: 12 of 40 account-region\(s\) finished by an earlier run are skipped/,
    );
    const touched = [...cells].filter(([, c]) => c.service.count() > 0).map(([k]) => k);
    expect(touched).toHaveLength(28);
    expect(countBy(outcomesOf(io))).toEqual({ applied: 56, compliant: 28, excluded: 28 });
    expect(io.stderr).toContain(
      'atrest: totals: 40 account-region(s): 80 applied, 40 compliant, 40 excluded; 80 write(s)',
    );
    // Completed: the checkpoint is gone, the next run starts afresh.
    expect(readdirSync(runEnv.ATREST_CHECKPOINT_DIR)).toEqual([]);
  });
});

describe('--account and the organization section', () => {
  it('--account of the caller’s own account works without an organization section', async () => {
    const io = captureIo(env());

    const code = await main(
      [
        'report',
        'aws.log-group-kms',
        '--account',
        OWN,
        '--region',
        'us-east-1',
        '--config',
        writeConfig(noOrgConfig),
      ],
      io,
      {
        access: testAccess(),
      },
    );

    expect(code).toBe(1);
    expect(io.stdout).toHaveLength(4);
  });

  it.each([
    [
      ['report', '--account', ACCOUNTS[1] as string, '--config', '$NOORG'],
      /not the caller's own account \(200000000000\).*config\.aws\.organization/,
    ],
    [
      ['sweep', 'aws.log-group-kms', '--account', ACCOUNTS[1] as string, '--config', '$NOORG'],
      /needs config\.aws\.organization/,
    ],
    [['report', '--org', '--config', '$NOORG'], /--org needs config\.aws\.organization/],
    [['sweep', 'aws.log-group-kms', '--org', '--config', '$NOORG'], /--org needs config\.aws\.organization/],
    [['report', '--org', '--account', OWN, '--config', '$ORG'], /--org and --account exclude each other/],
    [['report', '--account', 'abc', '--config', '$ORG'], /not an account id of aws: abc/],
    [['report', '--account', EXCLUDED, '--config', '$ORG'], /excludeAccounts/],
    [['report', '--org', '--region', 'cn-hangzhou', '--config', '$ORG'], /not a region of aws: cn-hangzhou/],
  ])('%j: exit 2, nothing read or written', async (argv, message) => {
    const paths = { $NOORG: writeConfig(noOrgConfig), $ORG: writeConfig(orgConfig) };
    const io = captureIo(env());

    const code = await main(
      argv.map((a) => paths[a as keyof typeof paths] ?? a),
      io,
      { access: testAccess() },
    );

    expect(code).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(message);
    expect([...cells.values()].reduce((n, c) => n + c.service.count(), 0)).toBe(0);
  });
});

describe('Alibaba Cloud: --org over a Resource Directory (20 members × 2 regions, disk default key)', () => {
  const KMS = 'key-hzz6c1f2b3a4d5e6f7g8h';
  const ALI_REGIONS = ['cn-hangzhou', 'cn-shanghai'] as const;
  const MEMBERS = Array.from({ length: 20 }, (_, i) => `15000000000000${String(i).padStart(2, '0')}`);
  const ecsOf = new Map<string, EcsEmulator>();
  let rd: ResourceDirectoryEmulator;
  const aliEnv = (extra: Record<string, string> = {}) =>
    env({
      ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
      ALIBABA_CLOUD_ENDPOINT_RESOURCEMANAGER: rd.url,
      ...extra,
    });
  const aliConfig = {
    alicloud: {
      organization: { memberRoleName: 'atrest-member', regions: [...ALI_REGIONS] },
      diskDefaultKms: { kmsKeyId: KMS },
    },
  };
  /** Each member reached through its own ECS endpoint: the stand-in for its assumed-role credentials. */
  const aliAccess: AccountAccess = {
    ownAccount: async () => MEMBERS[0] as string,
    async remediator(_id, account) {
      const ecs = ecsOf.get(account);
      if (!ecs) throw new AccountAccessError(`no member ${account}`, 'NoSuchEntity');
      const { createRemediator: disk } = await import(
        '../../functions/alicloud/disk-default-kms/remediator.ts'
      );
      return disk({
        account,
        env: {
          ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
          ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
          ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
        },
      });
    },
  };

  beforeAll(async () => {
    rd = new ResourceDirectoryEmulator([
      ...MEMBERS.map((id) => ({ id, status: 'CreateSuccess' })),
      { id: '1500000000009999', status: 'CreateVerifying' },
    ]);
    await rd.start();
    for (const account of MEMBERS) ecsOf.set(account, await startEcs());
  });
  afterAll(async () => {
    await rd.stop();
    await Promise.all([...ecsOf.values()].map((e) => e.stop()));
  });
  beforeEach(() => {
    for (const [i, account] of MEMBERS.entries()) {
      const ecs = ecsOf.get(account) as EcsEmulator;
      ecs.service.resetLog();
      for (const region of ALI_REGIONS) {
        ecs.state.seedKey(region, KMS);
        // Every fourth member has another default key in Shanghai.
        ecs.state.seedRegion(region, {
          encrypted: true,
          kmsKeyId: region === 'cn-shanghai' && i % 4 === 0 ? 'old-key' : KMS,
        });
      }
    }
  });

  it('report: one line per member and region, the drifted ones noncompliant; exit 1; nothing written', async () => {
    const io = captureIo(aliEnv());

    const code = await main(['report', '--org', '--config', writeConfig(aliConfig), '--rate', '10000'], io, {
      access: aliAccess,
    });

    const lines = io.stdout.map((l) => JSON.parse(l) as ReportLine);
    expect(code).toBe(1);
    expect(lines).toHaveLength(40);
    expect(new Set(lines.map((l) => l.account))).toEqual(new Set(MEMBERS));
    expect(lines.filter((l) => l.status === 'noncompliant').map((l) => `${l.account} ${l.region}`)).toEqual(
      MEMBERS.filter((_, i) => i % 4 === 0).map((a) => `${a} cn-shanghai`),
    );
    expect(lines.find((l) => l.status === 'noncompliant')).toMatchObject({
      resource: `acs:ecs:cn-shanghai:${MEMBERS[0]}:disk-default-encryption`,
      current: 'encrypted=true kmsKeyId=old-key',
      desired: KMS,
    });
    expect([...ecsOf.values()].reduce((n, e) => n + e.service.count({ write: true }), 0)).toBe(0);
    expect(rd.service.count({ action: 'ListAccounts', ok: true })).toBeGreaterThanOrEqual(1);
  });

  it('sweep: sets the key in exactly the drifted member regions, totals at the end', async () => {
    const io = captureIo(aliEnv());

    const code = await main(
      ['sweep', 'alicloud.disk-default-kms', '--org', '--config', writeConfig(aliConfig), '--rate', '10000'],
      io,
      { access: aliAccess },
    );

    expect(code).toBe(0);
    expect(countBy(outcomesOf(io))).toEqual({ applied: 5, compliant: 35 });
    for (const [i, account] of MEMBERS.entries())
      expect(ecsOf.get(account)?.service.count({ action: 'ModifyDiskDefaultKMSKeyId', ok: true })).toBe(
        i % 4 === 0 ? 1 : 0,
      );
    expect(io.stderr).toContain('atrest: totals: 40 account-region(s): 5 applied, 35 compliant; 5 write(s)');
  });
});
