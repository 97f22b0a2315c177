/**
 * `atrest report` in single-account mode (CONTRACT.md section 8): all five functions against the
 * emulators with the real SDK clients (signatures checked). Reads only; one line per resource;
 * the formats; exit 0 / 1 / 2.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import { format, type ReportLine, totals } from '../../functions/cli/report.ts';
import { type AckEmulator, startAck } from '../emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { type EcsEmulator, startEcs } from '../emulator/ecs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { type OssTablesEmulator, startOssTables } from '../emulator/oss-tables.ts';
import { type SlsEmulator, startSls } from '../emulator/sls.ts';
import { captureIo, writeConfig } from './helpers.ts';

const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ALI_KEY = 'key-hzz6c1f2b3a4d5e6f7g8h';
const ACCOUNT = '1234567890123456';
const REGION = 'cn-hangzhou';
const CLUSTER_OK = 'c0000000000000000000000000000000a';
const CLUSTER_PLAIN = 'c0000000000000000000000000000000b';

let logs: { service: EmulatedService; state: CloudWatchLogsState };
let sls: SlsEmulator;
let ack: AckEmulator;
let ecs: EcsEmulator;
let tables: OssTablesEmulator;

const config = {
  aws: { logGroupKms: { kmsKeyArn: AWS_KEY, exclude: ['^/aws/lambda/atrest-'] } },
  alicloud: {
    logstoreEncryption: { encryptType: 'default', exclude: ['^audit/'] },
    clusterKms: { kmsKeyId: ALI_KEY },
    tableBucketEncryption: { sseAlgorithm: 'AES256' },
    diskDefaultKms: { kmsKeyId: ALI_KEY, regions: [REGION] },
  },
} as const;

beforeAll(async () => {
  logs = await startCloudWatchLogs({ region: 'us-east-1', account: '111122223333' });
  [sls, ack, ecs, tables] = await Promise.all([startSls(), startAck(), startEcs(), startOssTables()]);
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.service.url,
  });
});
afterAll(async () => {
  await Promise.all([logs.service.stop(), sls.stop(), ack.stop(), ecs.stop(), tables.stop()]);
});

const services = () => [logs.service, sls.service, ack.service, ecs.service, tables.service];

const env = () => ({
  ...process.env,
  ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
  ALIBABA_CLOUD_REGION_ID: REGION,
  ALIBABA_CLOUD_ENDPOINT_SLS: sls.url,
  ALIBABA_CLOUD_ENDPOINT_CS: ack.url,
  ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
  ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: tables.url,
  FC_ACCOUNT_ID: ACCOUNT,
});

/** One compliant, one noncompliant (when `fixed` is false) and, where the function has them, one excluded resource each. */
function seed({ fixed }: { fixed: boolean }): void {
  for (const s of services()) {
    s.resetLog();
    s.clearFaults();
  }
  for (const name of logs.state.names()) logs.state.delete(name);
  logs.state.seedKey(AWS_KEY);
  logs.state.seedLogGroup('/app/good', AWS_KEY);
  logs.state.seedLogGroup('/app/plain', fixed ? AWS_KEY : undefined);
  logs.state.seedLogGroup('/aws/lambda/atrest-self');

  sls.state.projects.clear();
  sls.state.seedProject('app-logs', { region: REGION, owner: ACCOUNT });
  sls.state.seedLogstore('app-logs', 'enc', { enable: true, encrypt_type: 'default' });
  sls.state.seedLogstore('app-logs', 'plain', fixed ? { enable: true, encrypt_type: 'default' } : undefined);
  sls.state.seedProject('audit', { region: REGION, owner: ACCOUNT });
  sls.state.seedLogstore('audit', 'trail');

  for (const c of ack.clusters.all()) ack.clusters.delete(c.clusterId);
  ack.clusters.seed({ clusterId: CLUSTER_OK, regionId: REGION, kmsKeyId: ALI_KEY });
  ack.clusters.seed({ clusterId: CLUSTER_PLAIN, regionId: REGION, ...(fixed ? { kmsKeyId: ALI_KEY } : {}) });

  tables.state.buckets.clear();
  tables.state.seedBucket('tb-enc', { encryption: { sseAlgorithm: 'AES256' } });
  tables.state.seedBucket('tb-plain', fixed ? { encryption: { sseAlgorithm: 'AES256' } } : {});

  ecs.state.seedKey(REGION, ALI_KEY);
  ecs.state.seedRegion(REGION, { encrypted: true, kmsKeyId: ALI_KEY });
}

const linesOf = (io: { stdout: string[] }) => io.stdout.map((l) => JSON.parse(l) as ReportLine);
const writes = () => services().reduce((n, s) => n + s.count({ write: true }), 0);

describe('atrest report: all five functions, own account', () => {
  beforeEach(() => seed({ fixed: false }));

  it('one NDJSON line per resource with status, current and desired; nothing written; exit 1', async () => {
    const io = captureIo(env());

    const code = await main(
      ['report', '--config', writeConfig(config), '--format', 'ndjson', '--rate', '10000'],
      io,
    );

    const lines = linesOf(io);
    const status = (fn: string, resource: RegExp) =>
      lines.filter((l) => l.function === fn && resource.test(l.resource)).map((l) => l.status);
    expect(code).toBe(1);
    expect(status('aws.log-group-kms', /:\/app\/good$/)).toEqual(['compliant']);
    expect(status('aws.log-group-kms', /:\/app\/plain$/)).toEqual(['noncompliant']);
    expect(status('aws.log-group-kms', /atrest-self$/)).toEqual(['excluded']);
    expect(status('alicloud.logstore-encryption', /^app-logs\/enc$/)).toEqual(['compliant']);
    expect(status('alicloud.logstore-encryption', /^app-logs\/plain$/)).toEqual(['noncompliant']);
    expect(status('alicloud.logstore-encryption', /^audit\/trail$/)).toEqual(['excluded']);
    expect(status('alicloud.cluster-kms', new RegExp(CLUSTER_OK))).toEqual(['compliant']);
    expect(status('alicloud.cluster-kms', new RegExp(CLUSTER_PLAIN))).toEqual(['noncompliant']);
    expect(status('alicloud.table-bucket-encryption', /tb-enc/)).toEqual(['compliant']);
    expect(status('alicloud.table-bucket-encryption', /tb-plain/)).toEqual(['noncompliant']);
    expect(status('alicloud.disk-default-kms', /disk-default-encryption$/)).toEqual(['compliant']);
    expect(lines).toHaveLength(11);
    expect(lines.find((l) => l.resource.endsWith(':/app/plain'))).toEqual({
      function: 'aws.log-group-kms',
      account: '111122223333',
      region: 'us-east-1',
      resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/plain',
      status: 'noncompliant',
      current: 'none',
      desired: AWS_KEY,
    });
    expect(lines.find((l) => l.resource.endsWith(':/app/good'))?.current).toBe(`kmsKeyId=${AWS_KEY}`);
    expect(
      lines.every(
        (l) =>
          Object.keys(l).slice(0, 7).join() === 'function,account,region,resource,status,current,desired',
      ),
    ).toBe(true);
    expect(writes()).toBe(0);
    expect(io.stderr.at(-1)).toMatch(
      /^atrest: report: 11 resource\(s\): 5 compliant, 4 noncompliant, 2 excluded, 0 error in /,
    );
  });

  it('exit 0 when everything is compliant or excluded', async () => {
    seed({ fixed: true });
    const io = captureIo(env());

    const code = await main(
      ['report', '--config', writeConfig(config), '--format', 'ndjson', '--rate', '10000'],
      io,
    );

    expect(code).toBe(0);
    expect(
      linesOf(io)
        .map((l) => l.status)
        .sort(),
    ).toEqual([...Array(9).fill('compliant'), 'excluded', 'excluded']);
  });

  it('a read the service refuses is an error line with its code and request id, exit 1; the rest is still read', async () => {
    seed({ fixed: true });
    sls.service.failNext('GetLogStore', { status: 403, code: 'Unauthorized', times: 1 });
    const io = captureIo(env());

    const code = await main(
      ['report', 'alicloud.logstore-encryption', '--config', writeConfig(config), '--format', 'ndjson'],
      io,
    );

    const lines = linesOf(io);
    expect(code).toBe(1);
    expect(lines.filter((l) => l.status === 'error')).toEqual([
      expect.objectContaining({
        function: 'alicloud.logstore-encryption',
        error: expect.objectContaining({ code: 'Unauthorized', requestId: expect.any(String) }),
      }),
    ]);
    expect(lines.filter((l) => l.status === 'compliant')).toHaveLength(1);
  });

  it('a throttled read is tried again, not reported as an error', async () => {
    seed({ fixed: true });
    logs.service.failNext('DescribeLogGroups', { status: 400, code: 'ThrottlingException', times: 2 });
    const io = captureIo(env());

    const code = await main(
      ['report', 'aws.log-group-kms', '--config', writeConfig(config), '--format', 'ndjson'],
      io,
      {},
    );

    expect(code).toBe(0);
    expect(linesOf(io)).toHaveLength(3);
  });

  it('a listing the service refuses is one error line for that region with the code, exit 1', async () => {
    seed({ fixed: true });
    logs.service.failNext('DescribeLogGroups', { status: 400, code: 'AccessDeniedException', times: 1 });
    const io = captureIo(env());

    const code = await main(
      ['report', 'aws.log-group-kms', '--config', writeConfig(config), '--format', 'ndjson'],
      io,
    );

    expect(code).toBe(1);
    expect(linesOf(io)).toEqual([
      expect.objectContaining({
        function: 'aws.log-group-kms',
        region: 'us-east-1',
        resource: '',
        status: 'error',
        error: expect.objectContaining({ code: 'AccessDeniedException', requestId: expect.any(String) }),
      }),
    ]);
  });

  it('table on a terminal by default, NDJSON when stdout is not one', async () => {
    const tty = captureIo(env());
    tty.outTty = true;
    const pipe = captureIo(env());

    await main(['report', 'aws.log-group-kms', '--config', writeConfig(config)], tty);
    await main(['report', 'aws.log-group-kms', '--config', writeConfig(config)], pipe);

    expect(tty.stdout[0]).toMatch(/^FUNCTION\s+ACCOUNT\s+REGION\s+STATUS/);
    expect(tty.stdout.at(-1)).toBe('total: 3 resource(s): 1 compliant, 1 noncompliant, 1 excluded, 0 error');
    expect(pipe.stdout.map((l) => (JSON.parse(l) as ReportLine).status).sort()).toEqual([
      'compliant',
      'excluded',
      'noncompliant',
    ]);
  });

  it('md and csv for pipelines', async () => {
    const md = captureIo(env());
    const csv = captureIo(env());

    await main(['report', 'aws.log-group-kms', '--config', writeConfig(config), '--format', 'md'], md);
    await main(['report', 'aws.log-group-kms', '--config', writeConfig(config), '--format', 'csv'], csv);

    expect(md.stdout.slice(0, 4)).toEqual([
      '# atrest report',
      '',
      '| function | account | region | status | resource | current | desired | note |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ]);
    expect(md.stdout).toContain('| aws.log-group-kms | 1 | 1 | 1 | 0 | 3 |');
    expect(csv.stdout[0]).toBe('function,account,region,status,resource,current,desired,note');
    expect(csv.stdout).toHaveLength(4);
    expect(csv.stdout).toContain(
      `aws.log-group-kms,111122223333,us-east-1,noncompliant,arn:aws:logs:us-east-1:111122223333:log-group:/app/plain,none,${AWS_KEY},`,
    );
  });

  it.each([
    [['report', 'aws.nope'], /unknown function id "aws\.nope"/],
    [['report', '--format', 'xml'], /--format must be one of table, ndjson, md, csv/],
    [['report', '--rate', 'fast'], /--rate must be a number/],
    [['report', '--bogus'], /Unknown option '--bogus'/],
  ])('%j is a usage error: exit 2, nothing on stdout, nothing read', async (argv, message) => {
    const io = captureIo({ ...env(), ATREST_CONFIG: writeConfig(config) });

    const code = await main(argv, io);

    expect(code).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(message);
    expect(services().reduce((n, s) => n + s.count(), 0)).toBe(0);
  });

  it('a function with no config section is a usage error when named, and left out when not', async () => {
    const awsOnly = writeConfig({ aws: config.aws });
    const named = captureIo(env());
    const all = captureIo(env());

    expect(await main(['report', 'alicloud.cluster-kms', '--config', awsOnly], named)).toBe(2);
    expect(named.stderr.join('\n')).toMatch(/not configured \(no config section\): alicloud\.cluster-kms/);
    await main(['report', '--config', awsOnly, '--format', 'ndjson'], all);
    expect(new Set(linesOf(all).map((l) => l.function))).toEqual(new Set(['aws.log-group-kms']));
  });
});

describe('report formats (pure)', () => {
  const line = (over: Partial<ReportLine>): ReportLine => ({
    function: 'alicloud.logstore-encryption',
    account: '1',
    region: 'cn-hangzhou',
    resource: 'p/l',
    status: 'compliant',
    current: 'none',
    desired: 'default',
    ...over,
  });

  it('csv quotes commas, quotes and line breaks, and defuses spreadsheet formulas', () => {
    const out = format(
      [line({ resource: 'a,"b"', current: '=cmd()', reason: 'x\ny', status: 'excluded' })],
      'csv',
    );

    expect(out[1]).toBe(
      `alicloud.logstore-encryption,1,cn-hangzhou,excluded,"a,""b""",'=cmd(),default,"x\ny"`,
    );
  });

  it('md escapes pipes so a resource name cannot break the table', () => {
    const out = format([line({ resource: 'a|b' })], 'md');

    expect(out[4]).toBe(
      '| alicloud.logstore-encryption | 1 | cn-hangzhou | compliant | a\\|b | none | default |  |',
    );
  });

  it('totals count each status per function, account and region', () => {
    const t = totals([
      line({ account: '1', region: 'r1', status: 'compliant' }),
      line({ account: '1', region: 'r2', status: 'error', error: { code: 'X', message: 'm' } }),
      line({ account: '2', region: 'r1', status: 'noncompliant' }),
    ]);

    expect(t.account).toEqual([
      ['1', { compliant: 1, noncompliant: 0, excluded: 0, error: 1 }],
      ['2', { compliant: 0, noncompliant: 1, excluded: 0, error: 0 }],
    ]);
    expect(t.region.map(([r, c]) => [r, c.compliant + c.noncompliant + c.error])).toEqual([
      ['r1', 2],
      ['r2', 1],
    ]);
    expect(t.all).toEqual({ compliant: 1, noncompliant: 1, excluded: 0, error: 1 });
  });
});
