// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected values are ROS Fn::Sub strings.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ros from '@alicloud/ros-cdk-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import type { PermissionSet } from '../../functions/core/permissions.ts';
import { configSection, manifestOf, manifestsOf } from '../../functions/manifests.ts';
import {
  ALICLOUD_FUNCTION_IDS,
  type AlicloudFunctionId,
  AtrestAlicloudStack,
  type AtrestAlicloudStackProps,
  SWEEP_PAYLOAD,
  triggerOf,
} from '../../infra/alicloud/atrest-stack.ts';
import { type FunctionId, REPO_ROOT } from '../../infra/functions.ts';
import { loadAllPermissions } from '../../infra/permissions.ts';

// Synthesised template JSON, navigated freely by the assertions (a wrong path fails the assertion).
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json> };
interface RosTemplate {
  Description: string;
  Metadata: Record<string, Json>;
  Parameters: Record<string, { Type: string; Default?: string; AllowedPattern?: string }>;
  Resources: Record<string, Resource>;
}
interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown[];
}

const CONFIG = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'example-config.json'), 'utf8'));
const functionSpecName = (id: string) => id.slice(id.indexOf('.') + 1);
/** A function's logical id in the template: its folder name in PascalCase (ClusterKms). */
const LOGICAL: Record<string, string> = Object.fromEntries(
  ALICLOUD_FUNCTION_IDS.map((id) => [
    id,
    functionSpecName(id)
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(''),
  ]),
);
const MANIFESTS = manifestsOf('alicloud');
/** The functions the example config delivers through the trail path too (its `delivery`, else the manifest's default). */
const ON_TRAIL = MANIFESTS.filter((m) =>
  (
    (configSection(m.id, CONFIG) as { delivery?: string[] } | undefined)?.delivery ??
    m.delivery ??
    []
  ).includes('trail'),
).map((m) => m.id as AlicloudFunctionId);
const ALL_TYPES = [
  { suffix: ':ActionTrail:ApiCall' },
  { suffix: ':ActionTrail:ConsoleOperation' },
  { suffix: ':ActionTrail:AliyunServiceEvent' },
];
/** The functions whose timer runs the FC adapter's scheduled sweep; those with a timer of their own. */
const SWEEPING = MANIFESTS.filter((m) => m.trigger.sweeps).map((m) => m.id as AlicloudFunctionId);
const OWN_TIMER = MANIFESTS.filter((m) => m.trigger.timer && !m.trigger.sweeps);
const sub = (text: string) => ({ 'Fn::Sub': text });
// Built on the queue's attribute, so ROS orders the queue before its consumers.
const DLQ_ARN = {
  'Fn::Join': [
    '',
    [
      sub('acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/queues/'),
      { 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] },
      '/messages',
    ],
  ],
};
const INSTANCE = { 'Fn::GetAtt': ['OtsInstance', 'InstanceName'] };
/** What the platform wiring adds to each role after its permissions.ts statements. */
const PLATFORM_STATEMENTS: Statement[] = [
  {
    Effect: 'Allow',
    Action: ['ots:GetRow', 'ots:PutRow', 'ots:UpdateRow', 'ots:DeleteRow'],
    Resource: [
      {
        'Fn::Join': [
          '',
          [
            sub('acs:ots:${ALIYUN::Region}:${ALIYUN::AccountId}:instance/'),
            INSTANCE,
            '/table/atrest_idempotency',
          ],
        ],
      },
    ],
  },
  { Effect: 'Allow', Action: ['mns:SendMessage'], Resource: [DLQ_ARN] },
  {
    Effect: 'Allow',
    Action: ['log:PostLogStoreLogs'],
    Resource: [
      sub(
        'acs:log:${ALIYUN::Region}:${ALIYUN::AccountId}:project/atrest-${ALIYUN::AccountId}-${ALIYUN::Region}/logstore/functions',
      ),
    ],
  },
];

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function synth(
  permissions: ReadonlyMap<FunctionId, PermissionSet>,
  props: Partial<Omit<AtrestAlicloudStackProps, 'permissions'>> = {},
) {
  const outdir = mkdtempSync(join(tmpdir(), 'atrest-ros-'));
  outdirs.push(outdir);
  const app = new ros.App({ outdir });
  new AtrestAlicloudStack(app, 'Atrest', {
    config: CONFIG,
    permissions,
    alarmEmail: 'oncall@example.com',
    ...props,
  });
  const template = app.synth().getStackByName('Atrest').template as RosTemplate;
  return { template, outdir };
}

const ofType = (template: RosTemplate, type: string) =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

/** Expected RAM form of a permissions.ts resource: placeholders become ROS pseudo parameters. */
const ramResource = (pattern: string) => {
  const filled = pattern
    .replaceAll('{account}', '${ALIYUN::AccountId}')
    .replaceAll('{region}', '${ALIYUN::Region}')
    .replaceAll('{partition}', 'acs');
  return filled.includes('${') ? sub(filled) : filled;
};

describe('AtrestAlicloudStack', () => {
  let permissions: Map<FunctionId, PermissionSet>;
  let template: RosTemplate;
  let outdir: string;

  beforeAll(async () => {
    permissions = await loadAllPermissions(ALICLOUD_FUNCTION_IDS, parseConfig(CONFIG));
    ({ template, outdir } = synth(permissions));
  });

  it('writes a ROS template offline', () => {
    const written = JSON.parse(readFileSync(join(outdir, 'Atrest.template.json'), 'utf8'));

    expect(written.ROSTemplateFormatVersion).toBe('2015-09-01');
    expect(Object.keys(written.Resources)).toEqual(Object.keys(template.Resources));
  });

  it('deploys one nodejs20 function per Alibaba Cloud function, code from the OSS parameters', () => {
    const functions = ofType(template, 'ALIYUN::FC3::Function');

    expect(functions.map(([id]) => id).sort()).toEqual(Object.values(LOGICAL).sort());
    for (const [logical, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs20',
        Handler: 'index.handler',
        Code: { OssBucketName: { Ref: 'CodeBucket' }, OssObjectName: { Ref: `${logical}CodeObject` } },
        Role: { 'Fn::GetAtt': [`${logical}Role`, 'Arn'] },
        LogConfig: { Project: { 'Fn::GetAtt': ['LogProject', 'Name'] } },
      });
      expect(template.Parameters[`${logical}CodeObject`]?.Type).toBe('String');
    }
  });

  it('gives each function only its own config section, key ids from their parameters, and the Tablestore store', () => {
    const parsed = parseConfig(CONFIG);
    let keyParameters = 0;
    expect(template.Parameters.ConfigJson).toBeUndefined();
    for (const id of ALICLOUD_FUNCTION_IDS) {
      const env = template.Resources[LOGICAL[id] ?? '']?.Properties.EnvironmentVariables;
      let text: string;
      if (typeof env.ATREST_CONFIG_JSON === 'string') text = env.ATREST_CONFIG_JSON;
      else {
        // Key ids are `{{Name}}` placeholders replaced at deploy time by the parameter `Name`, defaulting to the config's key.
        const [replacements, body] = env.ATREST_CONFIG_JSON['Fn::Replace'] as [Record<string, Json>, string];
        text = body;
        for (const [placeholder, ref] of Object.entries(replacements)) {
          const name = /^\{\{(\w+)\}\}$/.exec(placeholder)?.[1] ?? '';
          expect(ref).toEqual({ Ref: name });
          expect(template.Parameters[name]?.Type).toBe('String');
          text = text.replaceAll(placeholder, template.Parameters[name]?.Default ?? '');
          keyParameters += 1;
        }
      }
      // Its own section, nothing of AWS or of the other Alibaba functions.
      const { section } = manifestOf(id);
      expect(JSON.parse(text)).toEqual({ alicloud: { [section]: configSection(id, parsed) } });
      expect(env).toMatchObject({
        ATREST_OTS_INSTANCE: INSTANCE,
        ATREST_OTS_TABLE: { 'Fn::GetAtt': ['IdempotencyTable', 'TableName'] },
        ATREST_OTS_ENDPOINT: {
          'Fn::Join': ['', ['https://', INSTANCE, sub('.${ALIYUN::Region}.ots.aliyuncs.com')]],
        },
      });
      expect(env.ATREST_SWEEP_RATE).toBe(manifestOf(id).trigger.sweeps ? '5' : undefined);
    }
    // The example config names keys: the parameter path is exercised.
    expect(keyParameters).toBeGreaterThan(0);
  });

  it.each(ALICLOUD_FUNCTION_IDS)('%s: an eventbridge trigger on successful ActionTrail calls only', (id) => {
    const trigger = template.Resources[`${LOGICAL[id]}EventTrigger`];
    const config = trigger?.Properties.TriggerConfig;

    expect(trigger?.Type).toBe('ALIYUN::FC3::Trigger');
    expect(trigger?.Properties.TriggerType).toBe('eventbridge');
    expect(trigger?.Properties.FunctionName).toEqual({ 'Fn::GetAtt': [LOGICAL[id], 'FunctionName'] });
    expect(config.asyncInvocationType).toBe(true);
    expect(config.eventSourceConfig).toEqual({ eventSourceType: 'Default' });
    expect(JSON.parse(config.eventRuleFilterPattern)).toEqual({
      type: manifestOf(id).trigger.eventTypes ?? ALL_TYPES,
      data: { eventName: [...triggerOf(id).eventNames], errorCode: [{ exists: false }] },
    });
  });

  it.each(ALICLOUD_FUNCTION_IDS)('%s: async retries, max event age, failures to the MNS queue', (id) => {
    const config = template.Resources[`${LOGICAL[id]}AsyncInvokeConfig`];

    expect(config).toEqual({
      Type: 'ALIYUN::FC3::AsyncInvokeConfig',
      Properties: {
        FunctionName: { 'Fn::GetAtt': [LOGICAL[id], 'FunctionName'] },
        MaxAsyncRetryAttempts: 3,
        MaxAsyncEventAgeInSeconds: 21_600,
        DestinationConfig: { OnFailure: { Destination: DLQ_ARN } },
      },
    });
    expect(template.Resources.DeadLetterQueue).toMatchObject({
      Type: 'ALIYUN::MNS::Queue',
      Properties: { QueueName: 'atrest-dlq' },
    });
  });

  it.each(OWN_TIMER.map((m) => [m.id, m] as const))('%s: its own periodic check on its timer', (id, m) => {
    const logical = LOGICAL[id] ?? '';
    const timer = template.Resources[`${logical}TimerTrigger`];

    expect(timer?.Properties).toEqual({
      FunctionName: { 'Fn::GetAtt': [logical, 'FunctionName'] },
      TriggerName: 'periodic-check',
      TriggerType: 'timer',
      TriggerConfig: {
        cronExpression: m.trigger.timer,
        enable: true,
        payload: JSON.stringify(SWEEP_PAYLOAD),
      },
    });
    expect(template.Resources[logical]?.Properties.Timeout).toBe(m.trigger.timeoutSeconds ?? 60);
  });

  it('has exactly one timer per function that has one', () => {
    const timers = ofType(template, 'ALIYUN::FC3::Trigger').filter(
      ([, t]) => t.Properties.TriggerType === 'timer',
    );

    expect(timers.map(([id]) => id).sort()).toEqual(
      MANIFESTS.filter((m) => m.trigger.timer)
        .map((m) => `${LOGICAL[m.id]}TimerTrigger`)
        .sort(),
    );
  });

  it.each(SWEEPING)('%s: a daily timer at 03:00 UTC that asks for the sweep, with time for it', (id) => {
    const timer = template.Resources[`${LOGICAL[id]}TimerTrigger`];
    const config = timer?.Properties.TriggerConfig;

    expect(timer?.Type).toBe('ALIYUN::FC3::Trigger');
    expect(timer?.Properties.TriggerType).toBe('timer');
    expect(timer?.Properties.TriggerName).toBe('sweep');
    expect(timer?.Properties.FunctionName).toEqual({ 'Fn::GetAtt': [LOGICAL[id], 'FunctionName'] });
    expect(config.enable).toBe(true);
    expect(config.cronExpression).toBe('0 0 3 * * *');
    expect(JSON.parse(config.payload)).toEqual({ atrest: { sweep: true } });
    expect(template.Resources[LOGICAL[id] ?? '']?.Properties.EnvironmentVariables.ATREST_SWEEP_RATE).toBe(
      '5',
    );
    expect(template.Resources[LOGICAL[id] ?? '']?.Properties.Timeout).toBe(300);
  });

  it('sets the sweep rate from the props, and refuses a bad one at synth, naming the variable', () => {
    const { template: slow } = synth(permissions, { sweepRate: 0.5 });

    expect(slow.Resources.ClusterKms?.Properties.EnvironmentVariables.ATREST_SWEEP_RATE).toBe('0.5');
    expect(() => synth(permissions, { sweepRate: 500 })).toThrow(ConfigError);
    expect(() => synth(permissions, { sweepRate: 500 })).toThrow(/ATREST_SWEEP_RATE/);
  });

  it.each(ALICLOUD_FUNCTION_IDS)(
    '%s: a role FC assumes, with exactly its permissions.ts and the wiring',
    (id) => {
      const role = template.Resources[`${LOGICAL[id]}Role`];
      const policies = role?.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>;
      const expected = (permissions.get(id)?.statements ?? []).map((s) => ({
        Effect: 'Allow',
        Action: [...s.actions],
        Resource: s.resources.map(ramResource),
      }));

      expect(role?.Type).toBe('ALIYUN::RAM::Role');
      expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: ['fc.aliyuncs.com'] },
          // Only this function may assume the role, not any FC function of the account.
          Condition: {
            StringLike: {
              'acs:SourceArn': sub(
                `acs:fc:\${ALIYUN::Region}:\${ALIYUN::AccountId}:functions/atrest-${functionSpecName(id)}`,
              ),
            },
          },
        },
      ]);
      expect(policies).toHaveLength(1);
      const statements = policies[0]?.PolicyDocument.Statement ?? [];
      expect(statements.slice(0, expected.length + PLATFORM_STATEMENTS.length)).toEqual([
        ...expected,
        ...PLATFORM_STATEMENTS,
      ]);
      // The trail path's read, on the trail logstore only, for the functions it delivers to.
      const rest = statements.slice(expected.length + PLATFORM_STATEMENTS.length);
      expect(rest.map((s) => s.Action)).toEqual(ON_TRAIL.includes(id) ? [['log:GetCursorOrData']] : []);
    },
  );

  it('grants, across all roles, exactly the union of permissions.ts plus the wiring actions', () => {
    const granted = ofType(template, 'ALIYUN::RAM::Role').flatMap(([, r]) =>
      (r.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap((p) =>
        p.PolicyDocument.Statement.flatMap((s) => s.Action),
      ),
    );
    const declared = [...permissions.values()].flatMap((p) => p.statements.flatMap((s) => s.actions));

    expect(new Set(granted)).toEqual(
      new Set([...declared, ...PLATFORM_STATEMENTS.flatMap((s) => s.Action), 'log:GetCursorOrData']),
    );
  });

  it('grants fc:InvokeFunction only to functions whose permissions.ts declare self-invocation', () => {
    expect(ofType(template, 'ALIYUN::RAM::Role').map(([id]) => id)).toContain('TrailInvocationRole');
    for (const id of ALICLOUD_FUNCTION_IDS) {
      const declares = permissions.get(id)?.statements.some((s) => s.actions.includes('fc:InvokeFunction'));
      const statements = template.Resources[`${LOGICAL[id]}Role`]?.Properties.Policies[0].PolicyDocument
        .Statement as Statement[];
      expect(statements.some((s) => s.Action.includes('fc:InvokeFunction'))).toBe(declares);
    }
  });

  it('lets the logstore function pass the BYOK role its config names', () => {
    const statements = template.Resources.LogstoreEncryptionRole?.Properties.Policies[0].PolicyDocument
      .Statement as Statement[];

    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['ram:PassRole'],
      Resource: [CONFIG.alicloud.logstoreEncryption.userCmkInfo.roleArn],
    });
  });

  it('keeps idempotency records in one Tablestore instance (V2, no classic network), table named by the prefix', () => {
    expect(ofType(template, 'ALIYUN::OTS::Instance')).toEqual([]);
    expect(ofType(template, 'ALIYUN::OTS::InstanceV2')).toHaveLength(1);
    expect(template.Resources.OtsInstance?.Properties).toEqual({
      InstanceName: 'atrest-store',
      ClusterType: 'HYBRID',
      InstanceDescription: 'atrest tables (idempotency records)',
      NetworkTypeACL: ['VPC', 'INTERNET'],
    });
    expect(template.Parameters.OtsInstanceName).toBeUndefined();
    expect(template.Resources.IdempotencyTable?.Properties).toMatchObject({
      InstanceName: INSTANCE,
      TableName: 'atrest_idempotency',
      PrimaryKey: [{ Name: 'key', Type: 'STRING' }],
      MaxVersions: 1,
    });
    // Longer than the longest idempotency TTL the config allows (7 days).
    expect(template.Resources.IdempotencyTable?.Properties.TimeToLive).toBeGreaterThan(7 * 86_400);
  });

  it('writes function logs to a logstore encrypted as the config asks (BYOK key, role, region)', () => {
    const cmk = CONFIG.alicloud.logstoreEncryption.userCmkInfo;
    expect(template.Resources.FunctionLogstore?.Properties).toMatchObject({
      ProjectName: { 'Fn::GetAtt': ['LogProject', 'Name'] },
      EncryptConf: {
        Enable: true,
        EncryptType: 'default',
        UserCmkInfo: { CmkKeyId: { Ref: 'LogstoreKmsKeyId' }, Arn: cmk.roleArn, RegionId: cmk.regionId },
      },
    });
  });

  it('caps every function at 20 instances', () => {
    for (const id of ALICLOUD_FUNCTION_IDS)
      expect(template.Resources[`${LOGICAL[id]}Concurrency`]).toEqual({
        Type: 'ALIYUN::FC3::ConcurrencyConfig',
        Properties: {
          FunctionName: { 'Fn::GetAtt': [LOGICAL[id], 'FunctionName'] },
          ReservedConcurrency: 20,
        },
      });
  });

  it.each(ALICLOUD_FUNCTION_IDS)('%s: the eventbridge trigger dead-letters what it cannot deliver', (id) => {
    const runOptions = template.Resources[`${LOGICAL[id]}EventTrigger`]?.Properties.TriggerConfig.runOptions;
    expect(runOptions).toMatchObject({ errorsTolerance: 'ALL', deadLetterQueue: { Arn: DLQ_ARN } });
  });

  it('alarms to an e-mail contact on failed outcomes and on dead letters', () => {
    expect(template.Resources.AlarmContact?.Properties).toMatchObject({
      Channels: { Mail: 'oncall@example.com' },
    });
    expect(template.Resources.AlarmContactGroup?.Properties.ContactNames).toEqual([
      { 'Fn::GetAtt': ['AlarmContact', 'ContactName'] },
    ]);
    const alert = template.Resources.FailedOutcomeAlert;
    expect(alert?.Type).toBe('ALIYUN::SLS::Alert');
    expect(alert?.Properties.Project).toEqual({ 'Fn::GetAtt': ['LogProject', 'Name'] });
    expect(alert?.Properties.Detail.Configuration).toMatchObject({
      QueryList: [
        expect.objectContaining({
          LogStore: 'functions',
          Query: expect.stringMatching(/^outcome: failed \|/),
        }),
      ],
      Condition: 'failed > 0',
      NotificationList: [expect.objectContaining({ Type: 'Email', EmailList: ['oncall@example.com'] })],
    });
    expect(template.Resources.DeadLetterDepthAlarm).toMatchObject({
      Type: 'ALIYUN::CMS::ResourceMetricRule',
      Properties: {
        Namespace: 'acs_mns_new',
        ContactGroups: [{ 'Fn::GetAtt': ['AlarmContactGroup', 'ContactGroupName'] }],
        Escalations: { Critical: { ComparisonOperator: 'GreaterThanThreshold', Threshold: '0' } },
      },
    });
  });

  it('names the account prerequisites in the template', () => {
    const notes = template.Metadata.atrest.Prerequisites as string[];

    expect(template.Description).toMatch(/Prerequisites/);
    expect(notes.some((n) => n.includes('TrailProject/TrailLogstore'))).toBe(true);
    expect(notes.some((n) => n.includes('AliyunECSDiskEncryptDefaultRole'))).toBe(true);
  });

  it('creates a trail writing to its own SLS project, and starts it, when none is given', () => {
    expect(template.Resources.ActionTrail).toMatchObject({
      Type: 'ALIYUN::ACTIONTRAIL::Trail',
      Properties: {
        Name: 'atrest-trail',
        EventRW: 'Write',
        SlsProjectArn: sub(
          'acs:log:${ALIYUN::Region}:${ALIYUN::AccountId}:project/atrest-trail-${ALIYUN::AccountId}-${ALIYUN::Region}',
        ),
      },
    });
    expect(template.Resources.ActionTrailLogging?.Properties).toEqual({ Name: 'atrest-trail', Enable: true });
    // In order: the project, the trail (which creates the logstore), logging on, then the triggers.
    const dependsOn = (id: string) =>
      (template.Resources[id] as { DependsOn?: string[] } | undefined)?.DependsOn;
    expect(dependsOn('ActionTrail')).toEqual(['TrailLogProject']);
    expect(dependsOn('ActionTrailLogging')).toEqual(['ActionTrail']);
    expect(dependsOn('LogstoreEncryptionTrailTrigger')).toEqual(['ActionTrailLogging']);
  });

  it.each(ALICLOUD_FUNCTION_IDS)(
    '%s: an SLS log trigger on the trail logstore exactly when delivery has trail',
    (id) => {
      const trigger = template.Resources[`${LOGICAL[id]}TrailTrigger`];
      if (!ON_TRAIL.includes(id)) {
        expect(trigger).toBeUndefined();
        return;
      }
      expect(trigger?.Type).toBe('ALIYUN::FC3::Trigger');
      expect(trigger?.Properties).toMatchObject({
        FunctionName: { 'Fn::GetAtt': [LOGICAL[id], 'FunctionName'] },
        TriggerType: 'log',
        InvocationRole: { 'Fn::GetAtt': ['TrailInvocationRole', 'Arn'] },
        TriggerConfig: {
          enable: true,
          sourceConfig: { logstore: 'actiontrail_atrest-trail' },
          jobConfig: { triggerInterval: 60, maxRetryTime: 3 },
        },
      });
    },
  );

  it('lets SLS invoke only the functions on the trail path, with a role it assumes', () => {
    const role = template.Resources.TrailInvocationRole;
    const statement = role?.Properties.Policies[0].PolicyDocument.Statement as Statement[];

    expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['log.aliyuncs.com'] } },
    ]);
    expect(ON_TRAIL.length).toBeGreaterThan(0);
    expect(statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['fc:InvokeFunction'],
        Resource: ON_TRAIL.map((id) =>
          sub(`acs:fc:\${ALIYUN::Region}:\${ALIYUN::AccountId}:functions/atrest-${functionSpecName(id)}`),
        ),
      },
    ]);
  });

  it("follows each function's delivery: trail only drops its EventBridge rule, eventbridge only its trigger", () => {
    const config = structuredClone(CONFIG);
    config.alicloud.logstoreEncryption.delivery = ['trail'];
    config.alicloud.tableBucketEncryption.delivery = ['eventbridge'];
    config.alicloud.clusterKms.delivery = ['eventbridge', 'trail'];
    const { template: t } = synth(permissions, { config });

    expect(t.Resources.LogstoreEncryptionEventTrigger).toBeUndefined();
    expect(t.Resources.LogstoreEncryptionTrailTrigger?.Properties.TriggerType).toBe('log');
    expect(t.Resources.TableBucketEncryptionTrailTrigger).toBeUndefined();
    expect(t.Resources.TableBucketEncryptionEventTrigger).toBeDefined();
    expect(t.Resources.ClusterKmsTrailTrigger).toBeDefined();
    expect(t.Resources.ClusterKmsEventTrigger).toBeDefined();
  });

  it('reads an existing trail logstore from parameters instead of creating a trail', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'atrest-ros-'));
    outdirs.push(outdir);
    const app = new ros.App({ outdir });
    new AtrestAlicloudStack(app, 'Atrest', {
      config: CONFIG,
      permissions,
      alarmEmail: 'oncall@example.com',
      trail: { project: 'org-audit', logstore: 'actiontrail_org-trail' },
    });
    const t = app.synth().getStackByName('Atrest').template as RosTemplate;

    expect(t.Resources.ActionTrail).toBeUndefined();
    expect(t.Parameters.TrailProject?.Default).toBe('org-audit');
    expect(t.Parameters.TrailLogstore?.Default).toBe('actiontrail_org-trail');
    expect(t.Resources.LogstoreEncryptionTrailTrigger?.Properties.TriggerConfig.sourceConfig).toEqual({
      logstore: { Ref: 'TrailLogstore' },
    });
  });

  it('refuses a trail logstore name that is not one, at synth', () => {
    const app = new ros.App({ outdir: mkdtempSync(join(tmpdir(), 'atrest-ros-')) });
    expect(
      () =>
        new AtrestAlicloudStack(app, 'Atrest', {
          config: CONFIG,
          permissions,
          alarmEmail: 'oncall@example.com',
          trail: { project: 'Org Audit', logstore: 'x' },
        }),
    ).toThrow(ConfigError);
  });

  it('fails at synth on a bad config, naming the field', () => {
    const bad = { alicloud: { clusterKms: { kmsKeyId: 'key-1', byRegion: { 'not a region': 'key-2' } } } };

    expect(() => synth(permissions, { config: bad })).toThrow(ConfigError);
    expect(() => synth(permissions, { config: bad })).toThrow(/config\.alicloud\.clusterKms\.byRegion/);
  });

  it('fails at synth when a self-invoke grant names another function than the one deployed', () => {
    expect(() => synth(permissions, { namePrefix: 'acme' })).toThrow(
      /alicloud\.cluster-kms: permissions grant fc:InvokeFunction .* deployed as acme-cluster-kms/,
    );
  });

  it('fails at synth when a function environment would exceed FC’s 4 KB, naming the function', () => {
    const exclude = Array.from({ length: 120 }, (_, i) => `^cluster-with-a-long-name-${i}$`);
    const big = {
      ...CONFIG,
      alicloud: { ...CONFIG.alicloud, clusterKms: { kmsKeyId: 'key-hzz6c1f2b3a4d5e6f7g8h', exclude } },
    };

    expect(() => synth(permissions, { config: big })).toThrow(
      /config \(alicloud\.cluster-kms\): the environment would be \d+ bytes, over the Function Compute limit of 4096/,
    );
  });

  it('fails at synth without an alarm e-mail, or with a reserved Tablestore word in the instance name', () => {
    expect(() => synth(permissions, { alarmEmail: '' })).toThrow(/alarmEmail: required/);
    expect(() => synth(permissions, { otsInstanceName: 'my-ots-store' })).toThrow(/reserved word "ots"/);
    expect(() => synth(permissions, { otsInstanceName: 'aliyun-atrest' })).toThrow(/reserved word "ali"/);
  });

  it('names the table after the prefix and can reuse an existing instance', async () => {
    const own = new Map(permissions);
    const { template: t } = synth(own, {
      functions: ['alicloud.disk-default-kms'],
      namePrefix: 'acme',
      otsInstanceName: 'shared-store',
      createOtsInstance: false,
    });
    expect(ofType(t, 'ALIYUN::OTS::InstanceV2')).toEqual([]);
    expect(t.Resources.IdempotencyTable?.Properties).toMatchObject({
      InstanceName: 'shared-store',
      TableName: 'acme_idempotency',
    });
  });

  it('keeps the default instance name within 16 characters for a long prefix', () => {
    const { template: t } = synth(permissions, {
      functions: ['alicloud.disk-default-kms'],
      namePrefix: 'platform-securi',
    });
    expect(t.Resources.OtsInstance?.Properties.InstanceName).toBe('platform-s-store');
  });

  it('leaves the FC concurrency to the account when asked (reservedConcurrency null)', () => {
    const { template: t } = synth(permissions, { reservedConcurrency: null });
    expect(ofType(t, 'ALIYUN::FC3::ConcurrencyConfig')).toEqual([]);
  });
});

describe('disk-default-kms role from its config', () => {
  const grants = async (section: Record<string, unknown>) => {
    const config = { alicloud: { diskDefaultKms: { kmsKeyId: 'key-hzz6c1f2b3a4d5e6f7g8h', ...section } } };
    const permissions = await loadAllPermissions(['alicloud.disk-default-kms'], parseConfig(config));
    const { template: t } = synth(permissions, { config, functions: ['alicloud.disk-default-kms'] });
    return t.Resources.DiskDefaultKmsRole?.Properties.Policies[0].PolicyDocument.Statement as Statement[];
  };

  it('covers every region the timer checks, and not EnableDiskEncryptionByDefault unless enableIfDisabled', async () => {
    const statements = await grants({ regions: ['cn-hangzhou', 'cn-beijing'] });
    const ecs = statements.filter((st) => st.Action.some((a) => a.startsWith('ecs:')));

    expect(ecs.flatMap((st) => st.Action)).not.toContain('ecs:EnableDiskEncryptionByDefault');
    for (const st of ecs)
      expect(st.Resource).toEqual([
        sub('acs:ecs:cn-beijing:${ALIYUN::AccountId}:*'),
        sub('acs:ecs:cn-hangzhou:${ALIYUN::AccountId}:*'),
      ]);
  });

  it('grants EnableDiskEncryptionByDefault when enableIfDisabled is on', async () => {
    const statements = await grants({ enableIfDisabled: true });
    expect(statements.flatMap((st) => st.Action)).toContain('ecs:EnableDiskEncryptionByDefault');
  });
});

describe('organization mode on Alibaba Cloud', () => {
  const roleStatements = async (organization: Record<string, unknown> | undefined) => {
    const config = {
      alicloud: {
        ...(organization ? { organization } : {}),
        diskDefaultKms: { kmsKeyId: 'key-hzz6c1f2b3a4d5e6f7g8h' },
      },
    };
    const permissions = await loadAllPermissions(['alicloud.disk-default-kms'], parseConfig(config));
    const { template: t } = synth(permissions, { config, functions: ['alicloud.disk-default-kms'] });
    return t.Resources.DiskDefaultKmsRole?.Properties.Policies[0].PolicyDocument.Statement as Statement[];
  };

  it('lets a central function assume only the member role, and only when an organization is configured', async () => {
    const central = await roleStatements({ memberRoleName: 'atrest-member', regions: ['cn-hangzhou'] });
    const alone = await roleStatements(undefined);

    expect(central.filter((s) => s.Action.includes('sts:AssumeRole'))).toEqual([
      { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: ['acs:ram:*:*:role/atrest-member'] },
    ]);
    expect(alone.flatMap((s) => s.Action)).not.toContain('sts:AssumeRole');
  });
});
