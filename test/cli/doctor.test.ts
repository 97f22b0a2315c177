/**
 * `atrest doctor` through main(), with the real KMS clients against the emulated AWS KMS (SigV4)
 * and Alibaba Cloud KMS (ACS3): one line per check, a fix on every FAIL, exit 0 / 1 / 2.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatCheck } from '../../functions/cli/doctor.ts';
import { alicloudKeyUses, keyChecks } from '../../functions/cli/doctor-alicloud.ts';
import { judgeRules } from '../../functions/cli/doctor-alicloud-delivery.ts';
import { analyzeKeyPolicy, logsStatement } from '../../functions/cli/doctor-aws.ts';
import { matchesCreateLogGroup, recordsManagementWrites } from '../../functions/cli/doctor-aws-delivery.ts';
import { main } from '../../functions/cli/main.ts';
import { parseConfig } from '../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { type AlicloudDeliveryEmulator, startAlicloudDelivery } from '../emulator/alicloud-delivery.ts';
import { type AlicloudKmsEmulator, startAlicloudKms } from '../emulator/alicloud-kms.ts';
import {
  type AwsDeliveryEmulator,
  CREATE_LOG_GROUP_PATTERN,
  startAwsDelivery,
} from '../emulator/aws-delivery.ts';
import { type AwsKmsState, logsKeyPolicy, rootOnlyKeyPolicy, startAwsKms } from '../emulator/aws-kms.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { DUMMY_CREDENTIALS } from '../emulator/sigv4.ts';
import { captureIo, writeConfig } from './helpers.ts';

const ACCOUNT = '111122223333';
const arn = (region: string, id: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`;
const GOOD = arn('us-east-1', '1111aaaa-12ab-34cd-56ef-1234567890ab');
const GOOD_EU = arn('eu-west-1', '2222bbbb-12ab-34cd-56ef-1234567890ab');
const DISABLED = arn('us-east-1', '3333cccc-12ab-34cd-56ef-1234567890ab');
const NO_LOGS = arn('us-east-1', '4444dddd-12ab-34cd-56ef-1234567890ab');
const RSA = arn('us-east-1', '5555eeee-12ab-34cd-56ef-1234567890ab');
const MISSING = arn('us-east-1', '6666ffff-12ab-34cd-56ef-1234567890ab');

let kms: EmulatedService;
let kmsState: AwsKmsState;
let aliKms: AlicloudKmsEmulator;
let awsDelivery: AwsDeliveryEmulator;
let aliDelivery: AlicloudDeliveryEmulator;

/** What a deployed account looks like: a logging trail and atrest's rules, enabled. */
function seedDelivery(): void {
  awsDelivery.trails.splice(0, Infinity, {
    Name: 'org-trail',
    HomeRegion: 'us-east-1',
    IsMultiRegionTrail: true,
    isLogging: true,
  });
  awsDelivery.rules.splice(0, Infinity, {
    Name: 'Atrest-OnCreateLogGroup1A2B3C-XYZ',
    State: 'ENABLED',
    EventPattern: CREATE_LOG_GROUP_PATTERN,
  });
  aliDelivery.trails.splice(0, Infinity, {
    Name: 'atrest-trail',
    SlsProjectArn: 'acs:log:cn-hangzhou:1234567890123456:project/actiontrail-atrest',
    isLogging: true,
  });
  aliDelivery.rules.splice(0, Infinity, CLUSTER_RULE, DISK_RULE);
}
const CLUSTER_RULE = {
  RuleName: 'atrest-cluster-kms-actiontrail',
  Status: 'ENABLE' as const,
  FilterPattern: '{"type":[{"suffix":":ActionTrail:ApiCall"}],"data":{"eventName":["CreateCluster"]}}',
};
const DISK_RULE = {
  RuleName: 'atrest-disk-default-kms-actiontrail',
  Status: 'ENABLE' as const,
  FilterPattern: '{"data":{"eventName":["EnableDiskEncryptionByDefault","ModifyDiskDefaultKMSKeyId"]}}',
};

beforeAll(async () => {
  ({ service: kms, state: kmsState } = await startAwsKms());
  aliKms = await startAlicloudKms({ region: 'cn-hangzhou' });
  awsDelivery = await startAwsDelivery();
  aliDelivery = await startAlicloudDelivery();
  Object.assign(process.env, awsDelivery.env, {
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
  });
  kmsState
    .seedKey({ arn: GOOD })
    .seedKey({ arn: GOOD_EU })
    .seedKey({ arn: DISABLED, state: 'Disabled' })
    .seedKey({ arn: NO_LOGS, policy: rootOnlyKeyPolicy(ACCOUNT) })
    .seedKey({ arn: RSA, keySpec: 'RSA_2048' });
  aliKms.state
    .seedKey({ keyId: 'key-good' })
    .seedKey({ keyId: 'key-sm4', keySpec: 'Aliyun_SM4' })
    .seedKey({ keyId: 'key-off', state: 'Disabled' });
});
afterAll(async () => {
  await kms.stop();
  await aliKms.stop();
  await awsDelivery.stop();
  await aliDelivery.stop();
});
beforeEach(seedDelivery);

const doctor = async (
  config: unknown,
  extra: string[] = [],
  env: Record<string, string | undefined> = {},
) => {
  const io = captureIo({ ...process.env, ...env });
  const code = await main(['doctor', '--config', writeConfig(config), ...extra], io);
  return { code, lines: io.stdout, stderr: io.stderr };
};
const aws = (kmsKeyArn: string, byRegion?: Record<string, string>) => ({
  aws: { logGroupKms: { kmsKeyArn, ...(byRegion ? { byRegion } : {}) } },
});
/** The line of one check: the status takes 4 columns, then two spaces, then the check. */
const line = (lines: string[], check: string) => lines.find((l) => l.slice(6).startsWith(`${check}  `));

describe('atrest doctor: AWS keys', () => {
  it('passes a good key in every configured region: exit 0, one ok line per check', async () => {
    const { code, lines } = await doctor(aws(GOOD, { 'eu-west-1': GOOD_EU }));

    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^ok {4}config {2}.*valid; configured: aws\.log-group-kms$/);
    for (const region of ['us-east-1', 'eu-west-1'])
      for (const check of ['key-exists', 'key-enabled', 'key-spec', 'key-usage', 'key-policy'])
        expect(line(lines, `aws.log-group-kms@${region} ${check}`)).toMatch(/^ok /);
    expect(line(lines, 'aws.log-group-kms@us-east-1 key-policy')).toMatch(
      /logs\.us-east-1\.amazonaws\.com may/,
    );
    expect(line(lines, 'aws.log-group-kms permissions')).toMatch(/^skip {2}.*not checkable/);
    expect(lines.some((l) => l.startsWith('FAIL'))).toBe(false);
  });

  it('fails a disabled key with the command that enables it', async () => {
    const { code, lines } = await doctor(aws(DISABLED));

    expect(code).toBe(1);
    expect(line(lines, 'aws.log-group-kms@us-east-1 key-enabled')).toBe(
      `FAIL  aws.log-group-kms@us-east-1 key-enabled  ${DISABLED} KeyState=Disabled: CloudWatch Logs cannot encrypt with it  fix: aws kms enable-key --key-id ${DISABLED} --region us-east-1`,
    );
  });

  it('fails a key policy without the CloudWatch Logs principal, with the exact statement to add', async () => {
    const { code, lines } = await doctor(aws(NO_LOGS));

    const policy = line(lines, 'aws.log-group-kms@us-east-1 key-policy') ?? '';
    expect(code).toBe(1);
    expect(policy).toMatch(
      /^FAIL .*no statement allows logs\.us-east-1\.amazonaws\.com kms:Encrypt, kms:Decrypt, kms:GenerateDataKey/,
    );
    const statement = JSON.parse(
      policy.slice(policy.indexOf('fix: add this statement to the key policy: ') + 43),
    );
    expect(statement).toEqual(logsStatement({ partition: 'aws', region: 'us-east-1', account: ACCOUNT }));
    expect(analyzeKeyPolicy(JSON.stringify({ Statement: [statement] }), 'us-east-1').ok).toBe(true);
  });

  it('fails a key of the wrong spec, saying CloudWatch Logs needs a symmetric key', async () => {
    const { code, lines } = await doctor(aws(RSA));

    expect(code).toBe(1);
    expect(line(lines, 'aws.log-group-kms@us-east-1 key-spec')).toMatch(
      /^FAIL .*KeySpec=RSA_2048: CloudWatch Logs supports only symmetric encryption keys {2}fix: create a SYMMETRIC_DEFAULT key .* and set aws\.logGroupKms\.kmsKeyArn to its ARN$/,
    );
    expect(line(lines, 'aws.log-group-kms@us-east-1 key-enabled')).toMatch(/^ok /);
  });

  it('fails a key that does not exist, and skips the checks that need it', async () => {
    const { code, lines } = await doctor(aws(MISSING));

    expect(code).toBe(1);
    expect(line(lines, 'aws.log-group-kms@us-east-1 key-exists')).toMatch(
      /^FAIL .*NotFoundException.*fix: create a symmetric key in us-east-1/,
    );
    expect(line(lines, 'aws.log-group-kms@us-east-1 key-enabled')).toBeUndefined();
  });

  it('fails a byRegion key from another region, and a named region without a key', async () => {
    const { code, lines } = await doctor(aws(GOOD, { 'eu-west-1': GOOD }), ['--region', 'ap-south-1']);

    expect(code).toBe(1);
    expect(line(lines, 'aws.log-group-kms@eu-west-1 key-region')).toMatch(
      /^FAIL .*fix: set aws\.logGroupKms\.byRegion\.eu-west-1 to a key in eu-west-1$/,
    );
    expect(line(lines, 'aws.log-group-kms@ap-south-1 key-for-region')).toMatch(
      /^FAIL .*no key for ap-south-1/,
    );
  });
});

describe('atrest doctor: config', () => {
  it('stops at an invalid config: a FAIL line naming the field, exit 2', async () => {
    const { code, lines, stderr } = await doctor({ aws: { logGroupKms: { kmsKeyArn: 'not-an-arn' } } });

    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^FAIL {2}config {2}config\.aws\.logGroupKms\.kmsKeyArn: does not match/);
    expect(stderr.join('\n')).toMatch(/invalid config/);
  });

  it('fails a config that switches every function off', async () => {
    const { code, lines } = await doctor({});

    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^FAIL {2}config {2}.*no function is configured/);
  });

  it('exits 2 when there is no config at all', async () => {
    const io = captureIo({});

    expect(await main(['doctor'], io)).toBe(2);
    expect(io.stdout[0]).toMatch(
      /^FAIL {2}config {2}no config: .* {2}fix: pass --config FILE \(or set ATREST_CONFIG\)/,
    );
  });
});

describe('atrest doctor: Alibaba Cloud keys', () => {
  const aliEnv = () => ({
    ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
    ALIBABA_CLOUD_ENDPOINT_KMS: aliKms.url,
    ...aliDelivery.env,
  });

  it('passes good keys for ACK, disks and SLS BYOK in the named region', async () => {
    const config = {
      alicloud: {
        clusterKms: { kmsKeyId: 'key-good' },
        diskDefaultKms: { kmsKeyId: 'key-sm4' },
        logstoreEncryption: {
          encryptType: 'default',
          userCmkInfo: {
            keyId: 'key-good',
            roleArn: 'acs:ram::1234567890123456:role/sls-byok',
            regionId: 'cn-hangzhou',
          },
        },
      },
    };

    const { code, lines } = await doctor(config, ['--region', 'cn-hangzhou'], aliEnv());

    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(code).toBe(0);
    expect(line(lines, 'alicloud.cluster-kms@cn-hangzhou key-spec')).toMatch(/^ok .*Aliyun_AES_256/);
    expect(line(lines, 'alicloud.disk-default-kms@cn-hangzhou key-spec')).toMatch(/^ok .*Aliyun_SM4/);
    expect(line(lines, 'alicloud.disk-default-kms permissions')).toMatch(
      /^skip .*ModifyDiskDefaultKMSKeyId .*no DryRun/,
    );
  });

  it('fails an ACK key that is not Aliyun_AES_256, and a disabled key with EnableKey', async () => {
    const config = {
      alicloud: { clusterKms: { kmsKeyId: 'key-sm4' }, diskDefaultKms: { kmsKeyId: 'key-off' } },
    };

    const { code, lines } = await doctor(config, ['--region', 'cn-hangzhou'], aliEnv());

    expect(code).toBe(1);
    expect(line(lines, 'alicloud.cluster-kms@cn-hangzhou key-spec')).toMatch(
      /^FAIL .*KeySpec=Aliyun_SM4: needs Aliyun_AES_256 .*fix: create a key with KeySpec Aliyun_AES_256/,
    );
    expect(line(lines, 'alicloud.disk-default-kms@cn-hangzhou key-enabled')).toMatch(
      /^FAIL .*KeyState=Disabled.*fix: aliyun kms EnableKey --KeyId key-off --region cn-hangzhou$/,
    );
  });

  it('fails a key that does not exist in the region it is used in', async () => {
    const { code, lines } = await doctor(
      { alicloud: { clusterKms: { kmsKeyId: 'key-good', byRegion: { 'cn-hangzhou': 'key-gone' } } } },
      [],
      aliEnv(),
    );

    expect(code).toBe(1);
    expect(line(lines, 'alicloud.cluster-kms@cn-hangzhou key-exists')).toMatch(
      /^FAIL .*Forbidden\.KeyNotFound.*fix: create the key in cn-hangzhou or set alicloud\.clusterKms\.byRegion\.cn-hangzhou/,
    );
  });

  it('fails when no region says where a default key is used, or no credentials are set', async () => {
    const noRegion = await doctor({ alicloud: { clusterKms: { kmsKeyId: 'key-good' } } }, [], aliEnv());
    const noCredentials = await doctor(
      { alicloud: { diskDefaultKms: { kmsKeyId: 'key-good', regions: ['cn-hangzhou'] } } },
      [],
      {
        ALIBABA_CLOUD_ACCESS_KEY_ID: '',
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
      },
    );

    expect(noRegion.code).toBe(1);
    expect(line(noRegion.lines, 'alicloud.cluster-kms key-region')).toMatch(/fix: pass --region R/);
    expect(noCredentials.code).toBe(1);
    expect(line(noCredentials.lines, 'alicloud credentials')).toMatch(
      /^FAIL .*fix: export ALIBABA_CLOUD_ACCESS_KEY_ID/,
    );
  });
});

describe('key policy analysis (pure)', () => {
  const policy = (...Statement: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement });
  const logs = { Service: 'logs.us-east-1.amazonaws.com' };

  it('accepts the policy atrest deploys and wildcard actions as IAM matches them', () => {
    expect(analyzeKeyPolicy(JSON.stringify(logsKeyPolicy('us-east-1', ACCOUNT)), 'us-east-1').ok).toBe(true);
    expect(
      analyzeKeyPolicy(policy({ Effect: 'Allow', Principal: logs, Action: 'kms:*' }), 'us-east-1').ok,
    ).toBe(true);
    expect(
      analyzeKeyPolicy(
        policy({
          Effect: 'Allow',
          Principal: { Service: ['logs.amazonaws.com'] },
          Action: ['KMS:encrypt*', 'kms:Decrypt', 'kms:GenerateDataKey*'],
        }),
        'us-east-1',
      ).ok,
    ).toBe(true);
  });

  it('China regions: the principal the stack deploys there (logs.<region>.amazonaws.com.cn) passes, the .com one does not', () => {
    const statement = (service: string) =>
      policy({
        Effect: 'Allow',
        Principal: { Service: service },
        Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:GenerateDataKey*'],
      });

    expect(analyzeKeyPolicy(statement('logs.cn-north-1.amazonaws.com.cn'), 'cn-north-1').ok).toBe(true);
    expect(analyzeKeyPolicy(statement('logs.cn-north-1.amazonaws.com'), 'cn-north-1').ok).toBe(false);
    expect(logsStatement({ partition: 'aws-cn', region: 'cn-north-1', account: ACCOUNT }).Principal).toEqual({
      Service: 'logs.cn-north-1.amazonaws.com.cn',
    });
  });

  it('names what is missing: another region’s principal, a narrow action list, an unconditional Deny', () => {
    const otherRegion = analyzeKeyPolicy(
      policy({ Effect: 'Allow', Principal: { Service: 'logs.eu-west-1.amazonaws.com' }, Action: 'kms:*' }),
      'us-east-1',
    );
    const narrow = analyzeKeyPolicy(
      policy({ Effect: 'Allow', Principal: logs, Action: ['kms:Decrypt'] }),
      'us-east-1',
    );
    const denied = analyzeKeyPolicy(
      policy(
        { Effect: 'Allow', Principal: logs, Action: 'kms:*' },
        { Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt' },
      ),
      'us-east-1',
    );

    expect(otherRegion).toMatchObject({
      ok: false,
      missing: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
    });
    expect(narrow).toMatchObject({ ok: false, missing: ['kms:Encrypt', 'kms:GenerateDataKey'] });
    expect(denied).toMatchObject({
      ok: false,
      missing: ['kms:Encrypt'],
      reason: expect.stringMatching(/Deny/),
    });
  });

  it('reads NotAction and refuses a policy that is not JSON', () => {
    expect(
      analyzeKeyPolicy(
        policy({ Effect: 'Allow', Principal: logs, NotAction: 'kms:ScheduleKeyDeletion' }),
        'us-east-1',
      ).ok,
    ).toBe(true);
    expect(
      analyzeKeyPolicy(policy({ Effect: 'Allow', Principal: logs, NotAction: 'kms:*' }), 'us-east-1').ok,
    ).toBe(false);
    expect(analyzeKeyPolicy('{', 'us-east-1')).toMatchObject({
      ok: false,
      reason: 'the key policy is not valid JSON',
    });
  });

  it('uses the .com.cn principal in the China regions', () => {
    const cn = policy({
      Effect: 'Allow',
      Principal: { Service: 'logs.cn-north-1.amazonaws.com.cn' },
      Action: 'kms:*',
    });
    expect(analyzeKeyPolicy(cn, 'cn-north-1').ok).toBe(true);
  });
});

describe('Alibaba Cloud key uses (pure)', () => {
  it('checks a default key in each named region without its own key, and byRegion keys where they are', () => {
    const config = parseConfig({
      alicloud: { clusterKms: { kmsKeyId: 'key-default', byRegion: { 'cn-beijing': 'key-bj' } } },
    });

    const { uses, problems } = alicloudKeyUses(config.alicloud ?? {}, ['cn-beijing', 'cn-shanghai']);

    expect(problems).toEqual([]);
    expect(uses.map((u) => `${u.region}:${u.keyId}:${u.need}`)).toEqual([
      'cn-beijing:key-bj:aes256',
      'cn-shanghai:key-default:aes256',
    ]);
  });

  it('accepts any symmetric spec for disks but only Aliyun_AES_256 for ACK', () => {
    const base = { region: 'cn-hangzhou', keyId: 'k', field: 'f' };
    const sm4 = { KeyState: 'Enabled', KeySpec: 'Aliyun_SM4', KeyUsage: 'ENCRYPT/DECRYPT' };

    const disk = keyChecks({ ...base, fn: 'alicloud.disk-default-kms', need: 'symmetric' }, sm4);
    const ack = keyChecks({ ...base, fn: 'alicloud.cluster-kms', need: 'aes256' }, sm4);

    expect(disk.map((c) => c.status)).toEqual(['ok', 'ok', 'ok']);
    expect(ack.map((c) => c.status)).toEqual(['ok', 'FAIL', 'ok']);
  });

  it('formats a check as status, check, detail and fix separated by two spaces', () => {
    expect(formatCheck({ status: 'ok', check: 'config', detail: 'valid' })).toBe('ok    config  valid');
    expect(formatCheck({ status: 'FAIL', check: 'x', detail: 'bad', fix: 'do y' })).toBe(
      'FAIL  x  bad  fix: do y',
    );
  });
});

describe('atrest doctor: will an event reach the function? (AWS)', () => {
  it('a logging multi-region trail and an ENABLED CreateLogGroup rule: ok in every region served', async () => {
    const { code, lines } = await doctor(aws(GOOD, { 'eu-west-1': GOOD_EU }));

    expect(code).toBe(0);
    for (const region of ['us-east-1', 'eu-west-1']) {
      expect(line(lines, `aws.log-group-kms@${region} trail-logging`)).toMatch(
        /^ok {4}.*trail org-trail is logging management write events \(multi-region\)$/,
      );
      expect(line(lines, `aws.log-group-kms@${region} rule`)).toMatch(
        /^ok .*Atrest-OnCreateLogGroup.*ENABLED$/,
      );
    }
  });

  it('no trail, or a trail that stopped logging: FAIL with the command that fixes it', async () => {
    awsDelivery.trails.splice(0, Infinity);
    const none = await doctor(aws(GOOD));
    awsDelivery.trails.push({
      Name: 'stopped',
      HomeRegion: 'us-east-1',
      IsMultiRegionTrail: false,
      isLogging: false,
    });
    const stopped = await doctor(aws(GOOD));

    expect(none.code).toBe(1);
    expect(line(none.lines, 'aws.log-group-kms@us-east-1 trail-logging')).toMatch(
      /^FAIL .*no CloudTrail trail covers us-east-1.*fix: aws cloudtrail create-trail .*start-logging/,
    );
    expect(line(stopped.lines, 'aws.log-group-kms@us-east-1 trail-logging')).toMatch(
      /^FAIL .*stopped \(not logging\).*fix: aws cloudtrail start-logging/,
    );
  });

  it('a trail that records only reads does not count', async () => {
    awsDelivery.trails.splice(0, Infinity, {
      Name: 'reads-only',
      HomeRegion: 'us-east-1',
      IsMultiRegionTrail: true,
      isLogging: true,
      selectors: { EventSelectors: [{ ReadWriteType: 'ReadOnly', IncludeManagementEvents: true }] },
    });

    const { lines } = await doctor(aws(GOOD));

    expect(line(lines, 'aws.log-group-kms@us-east-1 trail-logging')).toMatch(
      /^FAIL .*reads-only \(no management write events\)/,
    );
  });

  it('a DISABLED rule, or none at all: FAIL, with enable-rule or deploy', async () => {
    awsDelivery.rules[0] = { ...(awsDelivery.rules[0] as (typeof awsDelivery.rules)[0]), State: 'DISABLED' };
    const disabled = await doctor(aws(GOOD));
    awsDelivery.rules.splice(0, Infinity, {
      Name: 'other',
      State: 'ENABLED',
      EventPattern: '{"source":["aws.ec2"]}',
    });
    const missing = await doctor(aws(GOOD));

    expect(line(disabled.lines, 'aws.log-group-kms@us-east-1 rule')).toMatch(
      /^FAIL .*is DISABLED.*fix: aws events enable-rule --name Atrest-OnCreateLogGroup1A2B3C-XYZ --region us-east-1$/,
    );
    expect(line(missing.lines, 'aws.log-group-kms@us-east-1 rule')).toMatch(
      /^FAIL .*no rule on the default bus of us-east-1 matches aws\.logs CreateLogGroup.*fix: deploy/,
    );
  });

  it('finds the rule past the first page of ListRules', async () => {
    const others = Array.from({ length: 130 }, (_, i) => ({
      Name: `other-${i}`,
      State: 'ENABLED' as const,
      EventPattern: '{"source":["aws.ec2"]}',
    }));
    awsDelivery.rules.unshift(...others);

    const { lines } = await doctor(aws(GOOD));

    expect(line(lines, 'aws.log-group-kms@us-east-1 rule')).toMatch(/^ok /);
  });
});

describe('atrest doctor: will an event reach the function? (Alibaba Cloud)', () => {
  const aliEnv = () => ({
    ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
    ALIBABA_CLOUD_ENDPOINT_KMS: aliKms.url,
    ...aliDelivery.env,
  });
  const cluster = { alicloud: { clusterKms: { kmsKeyId: 'key-good' } } };
  const run = (config: unknown = cluster, env: Record<string, string> = aliEnv()) =>
    doctor(config, ['--region', 'cn-hangzhou'], env);

  it('no trail logging: FAIL with CreateTrail/StartLogging; a trail without SLS is named in the detail', async () => {
    aliDelivery.trails.splice(0, Infinity);
    const none = await run();
    aliDelivery.trails.push({ Name: 'oss-only', isLogging: true });
    const noSls = await run();

    expect(none.code).toBe(1);
    expect(line(none.lines, 'alicloud@cn-hangzhou trail-logging')).toMatch(
      /^FAIL .*no ActionTrail trail.*fix: aliyun actiontrail CreateTrail .*StartLogging/,
    );
    expect(line(noSls.lines, 'alicloud@cn-hangzhou trail-logging')).toMatch(
      /^ok .*oss-only is logging write events; none delivers to SLS/,
    );
  });

  it('a disabled rule: FAIL with EnableRule; a missing one: FAIL with deploy', async () => {
    aliDelivery.rules.splice(0, Infinity, { ...CLUSTER_RULE, Status: 'DISABLE' });
    const disabled = await run();
    aliDelivery.rules.splice(0, Infinity);
    const missing = await run();

    expect(line(disabled.lines, 'alicloud.cluster-kms@cn-hangzhou rule')).toMatch(
      /^FAIL .*Status is DISABLE.*fix: aliyun eventbridge EnableRule --EventBusName default --RuleName atrest-cluster-kms-actiontrail --region cn-hangzhou$/,
    );
    expect(line(missing.lines, 'alicloud.cluster-kms@cn-hangzhou rule')).toMatch(
      /^FAIL .*filters CreateCluster.*fix: deploy the ROS stack/,
    );
  });

  it('a default bus with no room for the rules atrest needs: FAIL (Function Compute allows 10)', async () => {
    aliDelivery.rules.splice(
      0,
      Infinity,
      ...Array.from({ length: 10 }, (_, i) => ({
        RuleName: `team-rule-${i}`,
        Status: 'ENABLE' as const,
        FilterPattern: '{"source":["acs.ecs"]}',
      })),
    );

    const { code, lines } = await run();

    expect(code).toBe(1);
    expect(line(lines, 'alicloud@cn-hangzhou default-bus-room')).toMatch(
      /^FAIL .*holds 10 rules and atrest needs 1 more; .*at most 10 event rules on the default event bus/,
    );
  });

  it('reads every page of ListRules (the rule on the third page is found)', async () => {
    aliDelivery.rules.splice(
      0,
      Infinity,
      ...Array.from({ length: 230 }, (_, i) => ({
        RuleName: `r-${i}`,
        Status: 'ENABLE' as const,
        FilterPattern: '{"source":["acs.ecs"]}',
      })),
      CLUSTER_RULE,
    );

    const { lines } = await run();

    expect(line(lines, 'alicloud.cluster-kms@cn-hangzhou rule')).toMatch(/^ok /);
    expect(aliDelivery.eventbridge.count({ action: 'ListRules' })).toBeGreaterThanOrEqual(3);
  });

  it('tells the operator before the first event that ModifyDiskDefaultKMSKeyId is for Alibaba Cloud accounts', async () => {
    const { lines } = await run({ alicloud: { diskDefaultKms: { kmsKeyId: 'key-sm4' } } });

    expect(line(lines, 'alicloud.disk-default-kms account-only')).toMatch(
      /^skip .*can only be called by Alibaba Cloud accounts.*"Only Alibaba Cloud accounts can call this operation".*fix: set the default key once with the account's own credentials/,
    );
  });

  it('signature checked: wrong credentials are a FAIL naming the service code', async () => {
    const { lines } = await run(cluster, { ...aliEnv(), ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'wrong-secret' });

    expect(line(lines, 'alicloud@cn-hangzhou trail-logging')).toMatch(
      /^FAIL .*ActionTrail DescribeTrails failed: \S+/,
    );
  });
});

describe('delivery decisions (pure)', () => {
  it('management write events: default selectors, basic and advanced selectors', () => {
    expect(recordsManagementWrites({})).toBe(true);
    expect(recordsManagementWrites({ EventSelectors: [{ ReadWriteType: 'WriteOnly' }] })).toBe(true);
    expect(
      recordsManagementWrites({ EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: false }] }),
    ).toBe(false);
    expect(
      recordsManagementWrites({
        AdvancedEventSelectors: [{ FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] }],
      }),
    ).toBe(true);
    expect(
      recordsManagementWrites({
        AdvancedEventSelectors: [
          {
            FieldSelectors: [
              { Field: 'eventCategory', Equals: ['Management'] },
              { Field: 'readOnly', Equals: ['true'] },
            ],
          },
        ],
      }),
    ).toBe(false);
  });

  it('a CreateLogGroup pattern: source aws.logs with that event name (or every logs call)', () => {
    expect(matchesCreateLogGroup(CREATE_LOG_GROUP_PATTERN)).toBe(true);
    expect(matchesCreateLogGroup('{"source":["aws.logs"]}')).toBe(true);
    expect(matchesCreateLogGroup('{"source":["aws.logs"],"detail":{"eventName":["DeleteLogGroup"]}}')).toBe(
      false,
    );
    expect(matchesCreateLogGroup('not json')).toBe(false);
    expect(matchesCreateLogGroup(undefined)).toBe(false);
  });

  it('judgeRules counts only the rules atrest still needs against the 10-rule default bus', () => {
    const rules = Array.from({ length: 9 }, (_, i) => ({
      name: `r${i}`,
      status: 'ENABLE',
      filterPattern: '{}',
    }));

    const checks = judgeRules('cn-hangzhou', ['alicloud.cluster-kms'], rules, 9);

    expect(checks.map((c) => c.status)).toEqual(['FAIL', 'ok']);
    expect(checks[1]?.detail).toBe('9 of 10 rules on the default bus; the 1 rule(s) atrest still needs fit');
  });
});
