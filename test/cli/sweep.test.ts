/**
 * `atrest sweep` end to end: main() with the real SDK clients against the emulators (signatures
 * checked), NDJSON on stdout, progress and summary on stderr.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import { type CallerSts, startCallerSts } from '../emulator/accounts.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { type EcsEmulator, startEcs } from '../emulator/ecs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { captureIo, countBy, outcomesOf, writeConfig } from './helpers.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_KEY = 'arn:aws:kms:us-east-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab';

let logs: EmulatedService;
let state: CloudWatchLogsState;
let ecs: EcsEmulator;
// The CLI asks STS GetCallerIdentity for its own account (once per run and cloud).
let sts: CallerSts;
const awsConfig = writeConfig({ aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^/excluded/'] } } });

beforeAll(async () => {
  ({ service: logs, state } = await startCloudWatchLogs());
  ecs = await startEcs();
  sts = await startCallerSts();
  process.env.AWS_ENDPOINT_URL_STS = sts.env.AWS_ENDPOINT_URL_STS;
  // The AWS SDK reads its endpoint and credentials from the process environment only.
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = logs.url;
  process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
});
afterAll(async () => {
  await logs.stop();
  await ecs.stop();
  await sts.stop();
  delete process.env.AWS_ENDPOINT_URL_STS;
});

const awsEnv = () => ({ ...process.env, ATREST_CONFIG: awsConfig });

/** A fresh account: `scale` x (4 plain, 3 with the key, 1 with another key, 2 excluded) log groups. */
function seed(scale: number): void {
  for (const name of state.names()) state.delete(name);
  logs.resetLog();
  logs.clearFaults();
  state.seedKey(KEY).seedKey(OTHER_KEY);
  const n = (i: number) => String(i).padStart(3, '0');
  for (let i = 0; i < 4 * scale; i++) state.seedLogGroup(`/app/plain/${n(i)}`);
  for (let i = 0; i < 3 * scale; i++) state.seedLogGroup(`/app/good/${n(i)}`, KEY);
  for (let i = 0; i < scale; i++) state.seedLogGroup(`/app/other/${n(i)}`, OTHER_KEY);
  for (let i = 0; i < 2 * scale; i++) state.seedLogGroup(`/excluded/${n(i)}`);
}

describe('atrest sweep aws.log-group-kms (500 log groups)', () => {
  beforeEach(() => seed(50));

  it('applies the key to the 250 non-compliant groups, leaves 150 compliant and 100 excluded; progress and summary on stderr', async () => {
    const io = captureIo(awsEnv());

    const code = await main(['sweep', 'aws.log-group-kms', '--rate', '10000', '--concurrency', '16'], io);

    const outcomes = outcomesOf(io);
    expect(code).toBe(0);
    expect(outcomes).toHaveLength(500);
    expect(countBy(outcomes)).toEqual({ applied: 250, compliant: 150, excluded: 100 });
    expect(new Set(outcomes.map((o) => o.resource)).size).toBe(500);
    expect(outcomes.reduce((n, o) => n + o.attempts, 0)).toBe(250);
    expect(logs.count({ action: 'AssociateKmsKey', write: true, ok: true })).toBe(250);
    expect(state.logGroup('/app/plain/000')?.kmsKeyId).toBe(KEY);
    expect(state.logGroup('/app/other/049')?.kmsKeyId).toBe(KEY);
    expect(state.logGroup('/excluded/000')?.kmsKeyId).toBeUndefined();
    expect(outcomes[0]).toMatchObject({
      function: 'aws.log-group-kms',
      region: 'us-east-1',
      dryRun: false,
      eventId: expect.stringMatching(/^sweep:/),
    });
    // stderr: progress every 100 resources, then the summary with the write count; stdout: NDJSON only.
    expect(
      io.stderr.filter((l) => /sweep aws\.log-group-kms us-east-1: \d+\/\d+ done/.test(l)).length,
    ).toBeGreaterThanOrEqual(5);
    expect(io.stderr.at(-1)).toMatch(/^atrest: 500 processed: .*; 250 write\(s\) in \d+\.\d s$/);
    expect(io.stdout.every((l) => l.startsWith('{'))).toBe(true);
  });
});

describe('atrest sweep aws.log-group-kms: behaviour', () => {
  beforeEach(() => seed(4));

  it('draws one updating progress line when stderr is a terminal', async () => {
    const io = captureIo(awsEnv(), { tty: true });

    await main(['sweep', 'aws.log-group-kms', '--rate', '10000', '--dry-run'], io);

    expect(io.raw.length).toBeGreaterThan(0);
    expect(io.raw.every((t) => t.startsWith('\r\x1b[2K'))).toBe(true);
    expect(io.raw.at(-1)).toMatch(/40\/40 done.*\n$/);
    expect(io.stderr.some((l) => /\d+\/\d+ done/.test(l))).toBe(false);
  });

  it('with --dry-run reads and decides, writes nothing', async () => {
    const io = captureIo(awsEnv());

    const code = await main(['sweep', 'aws.log-group-kms', '--dry-run', '--rate', '10000'], io);

    expect(code).toBe(0);
    expect(countBy(outcomesOf(io))).toEqual({ applied: 20, compliant: 12, excluded: 8 });
    expect(outcomesOf(io).every((o) => o.dryRun && o.attempts === 0)).toBe(true);
    expect(logs.count({ write: true })).toBe(0);
    // Ends with what a real run would change, one resource per line.
    const at = io.stderr.findIndex((l) => l.startsWith('atrest: dry run'));
    expect(io.stderr[at]?.split('\n')[0]).toBe(
      'atrest: dry run, nothing written: 20 would change, 20 would stay as they are',
    );
    expect(io.stderr[at]?.split('\n').filter((l) => l.startsWith('  would encrypt '))).toHaveLength(20);
  });

  it('keeps going when a write is refused: one failed line with the code, exit 1', async () => {
    logs.failNext('AssociateKmsKey', { status: 400, code: 'AccessDeniedException', times: 1 });
    const io = captureIo(awsEnv());

    const code = await main(['sweep', 'aws.log-group-kms', '--rate', '10000'], io);

    const outcomes = outcomesOf(io);
    expect(code).toBe(1);
    expect(outcomes).toHaveLength(40);
    expect(countBy(outcomes)).toEqual({ failed: 1, applied: 19, compliant: 12, excluded: 8 });
    expect(outcomes.find((o) => o.outcome === 'failed')?.error?.code).toBe('AccessDeniedException');
  });

  it('exits 1 for a deferred line: the work is not settled (written, the read-back never shows it)', async () => {
    state.lagReads('/app/plain/000', 1_000);
    const io = captureIo(awsEnv());

    const code = await main(['sweep', 'aws.log-group-kms', '--rate', '10000'], io);

    expect(countBy(outcomesOf(io))).toEqual({ deferred: 1, applied: 19, compliant: 12, excluded: 8 });
    expect(code).toBe(1);
  });

  it('reports a listing it may not make as a failed line, exit 1', async () => {
    logs.failNext('DescribeLogGroups', { status: 400, code: 'AccessDeniedException', times: 1 });
    const io = captureIo(awsEnv());

    const code = await main(['sweep', 'aws.log-group-kms'], io);

    expect(code).toBe(1);
    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        resource: '',
        error: expect.objectContaining({ code: 'AccessDeniedException' }),
      }),
    ]);
  });

  it('survives a throttled listing page by listing again', async () => {
    logs.failNext('DescribeLogGroups', { status: 400, code: 'ThrottlingException', times: 1 });
    const io = captureIo(awsEnv());

    const code = await main(['sweep', 'aws.log-group-kms', '--rate', '10000', '--dry-run'], io);

    expect(code).toBe(0);
    expect(outcomesOf(io)).toHaveLength(40);
  });
});

describe('atrest sweep: usage', () => {
  it.each([
    [['sweep'], /exactly one function id/],
    [['sweep', 'aws.nope'], /unknown function id/],
    [['sweep', 'aws.log-group-kms', '--rate', '0'], /--rate must be a number above 0/],
    [['sweep', 'aws.log-group-kms', '--rate', 'fast'], /--rate must be a number/],
    [['sweep', 'aws.log-group-kms', '--region', 'mars-1'], /not a region of aws: mars-1/],
    [['sweep', 'aws.log-group-kms', '--concurrency', '0'], /--concurrency/],
  ])('%j is a usage error (exit 2, nothing on stdout)', async (argv, message) => {
    const io = captureIo(awsEnv());

    const code = await main(argv, io);

    expect(code).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(message);
  });
});

describe('atrest sweep alicloud.disk-default-kms (ECS, every configured region)', () => {
  it('checks each region of the config and fixes the one with another key', async () => {
    const KMS = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
    ecs.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: KMS });
    ecs.state.seedRegion('cn-beijing', { encrypted: true, kmsKeyId: 'old-key' });
    ecs.state.seedRegion('cn-shanghai', { encrypted: false });
    for (const r of ['cn-hangzhou', 'cn-beijing', 'cn-shanghai']) ecs.state.seedKey(r, KMS);
    const config = writeConfig({
      alicloud: { diskDefaultKms: { kmsKeyId: KMS, regions: ['cn-hangzhou', 'cn-beijing', 'cn-shanghai'] } },
    });
    const io = captureIo({
      ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
      ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
      ALIBABA_CLOUD_ENDPOINT_STS: sts.env.ALIBABA_CLOUD_ENDPOINT_STS,
      FC_ACCOUNT_ID: '1234567890123456',
    });

    const code = await main(['sweep', 'alicloud.disk-default-kms', '--config', config, '--rate', '1000'], io);

    const byRegion = Object.fromEntries(outcomesOf(io).map((o) => [o.region, o.outcome]));
    expect(code).toBe(0);
    expect(byRegion).toEqual({
      'cn-hangzhou': 'compliant',
      'cn-beijing': 'applied',
      'cn-shanghai': 'excluded',
    });
    expect(ecs.state.region('cn-beijing').kmsKeyId).toBe(KMS);
    expect(ecs.service.count({ action: 'ModifyDiskDefaultKMSKeyId', ok: true })).toBe(1);
    expect(outcomesOf(io)[0]?.resource).toMatch(
      /^acs:ecs:cn-[a-z]+:1234567890123456:disk-default-encryption$/,
    );
  });
});
