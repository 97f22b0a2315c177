import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Duration, type Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { permissions } from '../../functions/aws/log-group-kms/permissions.ts';
import { parseConfig } from '../../functions/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import { fillResource } from '../../functions/core/permissions.ts';
import { AtrestStack, type AtrestStackProps, SWEEP_EVENT } from '../../infra/aws/lib/atrest-stack.ts';
import { REPO_ROOT } from '../../infra/functions.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const EU_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/5678abcd-12ab-34cd-56ef-1234567890ab';
const CONFIG = {
  aws: {
    logGroupKms: {
      kmsKeyArn: KEY_ARN,
      byRegion: { 'eu-west-1': EU_KEY_ARN },
      exclude: ['^/aws/lambda/atrest-'],
    },
  },
};
const ALICLOUD_SECTION = {
  clusterKms: {
    kmsKeyId: 'key-hzz6c1f2b3a4d5e6f7g8h',
    exclude: Array.from({ length: 200 }, (_, i) => `^c-${i}-long-prefix-to-fill-space$`),
  },
};
/** A stub instead of the real bundle: stack tests stay fast; bundling is tested in bundle.test.ts. */
const STUB_CODE = lambda.Code.fromInline('exports.handler = async () => [];');
// Actions the platform wiring adds on top of permissions.ts (own log group, async DLQ, idempotency
// table, and the data key both are encrypted with). No sqs:GetQueueAttributes / GetQueueUrl.
const PLATFORM_ACTIONS = [
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'sqs:SendMessage',
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:DescribeKey',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

const BASE = { config: CONFIG, permissions, code: STUB_CODE, alarmEmail: 'oncall@example.com' };

interface Synth {
  stack: AtrestStack;
  template: Template;
  violations: unknown[];
}

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function newApp(): { app: App; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'atrest-cdk-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, outdir };
}

/** Synthesises with cdk-nag on: an unacknowledged error throws here; warnings land in the report. */
function synth(props: Partial<AtrestStackProps> = {}): Synth {
  const { app, outdir } = newApp();
  const stack = new AtrestStack(app, 'Atrest', { ...BASE, ...props });
  const template = Template.fromStack(stack);
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ violations: unknown[] }>;
  };
  return { stack, template, violations: report.pluginReports.flatMap((r) => r.violations) };
}

const ref = (stack: Stack, construct: IConstruct) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const arnOf = (stack: Stack, construct: IConstruct) => ({ 'Fn::GetAtt': [ref(stack, construct), 'Arn'] });
const single = (actions: readonly string[]) => (actions.length === 1 ? actions[0] : [...actions]);

function policyStatements(template: Template): Array<{ Action: string | string[]; Resource: unknown }> {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement;
}

describe('AtrestStack with the configured key (eu-west-1)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({ env: { account: '111122223333', region: 'eu-west-1' } });
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged error or warning', () => {
    expect(s.violations).toEqual([]);
  });

  it('listens to successful CloudTrail CreateLogGroup calls and the tamper events only', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals({
        source: ['aws.logs'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['logs.amazonaws.com'],
          eventName: ['CreateLogGroup', 'DisassociateKmsKey', 'AssociateKmsKey'],
          errorCode: [{ exists: false }],
          errorMessage: [{ exists: false }],
        },
      }),
    });
  });

  it('delivers to the function with retries, a max event age and the event DLQ', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.logs'] }),
      Targets: [
        {
          Arn: arnOf(s.stack, s.stack.function),
          Id: Match.anyValue(),
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21_600 },
          DeadLetterConfig: { Arn: arnOf(s.stack, s.stack.eventDlq) },
        },
      ],
    });
  });

  it('sweeps once a day by sending the sweep event to the same function', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      Targets: [
        Match.objectLike({
          Arn: arnOf(s.stack, s.stack.function),
          Input: JSON.stringify(SWEEP_EVENT),
          DeadLetterConfig: { Arn: arnOf(s.stack, s.stack.eventDlq) },
        }),
      ],
    });
    s.template.resourceCountIs('AWS::Events::Rule', 2);
  });

  it('grants exactly the statements of permissions.ts, resources filled for this account and region', () => {
    const statements = policyStatements(s.template);
    const filled = { partition: s.stack.partition, account: s.stack.account, region: s.stack.region };

    for (const statement of permissions.statements)
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: single(statement.actions),
        Resource: s.stack.resolve(
          statement.resources.length === 1
            ? fillResource(statement.resources[0] ?? '', filled)
            : statement.resources.map((r) => fillResource(r, filled)),
        ),
      });
    expect(JSON.stringify(statements)).not.toMatch(/\{(partition|account|region)\}/);
    expect(JSON.stringify(statements)).toContain(':logs:eu-west-1:111122223333:log-group:*');
  });

  it('grants no action beyond permissions.ts and the platform wiring', () => {
    const actions = policyStatements(s.template).flatMap((st) =>
      Array.isArray(st.Action) ? st.Action : [st.Action],
    );

    expect(new Set(actions)).toEqual(
      new Set([...permissions.statements.flatMap((st) => st.actions), ...PLATFORM_ACTIONS]),
    );
    s.template.resourceCountIs('AWS::IAM::Role', 1);
    s.template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('runs Node 22 on ARM64 with its own encrypted log group, the config and the table name', () => {
    const fn = s.template.findResources('AWS::Lambda::Function');
    const variables = Object.values(fn)[0]?.Properties.Environment.Variables;

    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'atrest-log-group-kms',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 300,
      LoggingConfig: { LogGroup: { Ref: ref(s.stack, s.stack.function.logGroupOwn) } },
    });
    // The function's own group gets the key this region's config names (byRegion wins).
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30, KmsKeyId: EU_KEY_ARN });
    expect(parseConfig(JSON.parse(variables.ATREST_CONFIG_JSON))).toEqual(parseConfig(CONFIG));
    expect(variables.IDEMPOTENCY_TABLE_NAME).toEqual({ Ref: ref(s.stack, s.stack.table) });
  });

  it('retries failed async invocations, then sends them to the async DLQ', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ref(s.stack, s.stack.function) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: arnOf(s.stack, s.stack.asyncDlq) } },
    });
  });

  it('keeps both DLQs encrypted and reachable over TLS only', () => {
    s.template.resourceCountIs('AWS::SQS::Queue', 2);
    s.template.allResourcesProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: arnOf(s.stack, s.stack.dataKey),
      SqsManagedSseEnabled: Match.absent(),
      MessageRetentionPeriod: Duration.days(14).toSeconds(),
    });
    for (const queue of [s.stack.eventDlq, s.stack.asyncDlq])
      s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: ref(s.stack, queue) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
  });

  it('stores idempotency records the way Powertools expects, with TTL, PITR and encryption', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: arnOf(s.stack, s.stack.dataKey) },
    });
    expect(policyStatements(s.template)).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Resource: [arnOf(s.stack, s.stack.table)],
      }),
    );
  });

  it('alarms on errors, throttles, both DLQs, failed outcomes and an incomplete sweep; one composite pages', () => {
    const topic = { Ref: ref(s.stack, s.stack.alarmTopic) };
    const outcome = (value: string) => ({
      Namespace: 'atrest',
      MetricName: 'Outcome',
      Dimensions: Match.arrayWith([
        { Name: 'function', Value: 'aws.log-group-kms' },
        { Name: 'outcome', Value: value },
      ]),
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });

    // Six causes plus the informational deferred alarm; none of them notifies by itself.
    s.template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    s.template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: Match.absent(),
    });
    for (const metric of ['Errors', 'Throttles'])
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
      });
    for (const queue of [s.stack.eventDlq, s.stack.asyncDlq])
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ref(s.stack, queue), 'QueueName'] } }],
      });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', outcome('failed'));
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', outcome('deferred'));
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'atrest',
      MetricName: 'SweepIncomplete',
    });
    s.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: ref(s.stack, s.stack.function.logGroupOwn) },
      FilterPattern: '{ $.message = "sweep" && $.complete IS FALSE }',
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'atrest', MetricName: 'SweepIncomplete' })],
    });
    // One failure shows in several children (outcome, error, DLQ); only the composite notifies.
    s.template.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
    s.template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmActions: [topic] });
    const composite = Object.values(s.template.findResources('AWS::CloudWatch::CompositeAlarm'))[0];
    const rule = JSON.stringify(composite?.Properties.AlarmRule);
    for (const id of [
      'FunctionErrors',
      'FunctionThrottles',
      'EventDlqDepth',
      'AsyncDlqDepth',
      'OutcomeFailed',
      'SweepIncomplete',
    ])
      expect(rule).toContain(ref(s.stack, s.stack.node.findChild(id)));
    expect(rule).not.toContain(ref(s.stack, s.stack.node.findChild('OutcomeDeferred')));
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: arnOf(s.stack, s.stack.dataKey) });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('encrypts its own data with a rotating customer managed key that EventBridge and CloudWatch may use', () => {
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith(
          ['events.amazonaws.com', 'cloudwatch.amazonaws.com'].map((service) =>
            Match.objectLike({
              Principal: { Service: service },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
            }),
          ),
        ),
      },
    });
  });

  it('caps the function at 20 concurrent instances by default', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 20 });
  });

  it('gives the function only its own section of the config, and the sweep rate', () => {
    const t = synth({
      env: { account: '111122223333', region: 'eu-west-1' },
      config: { ...CONFIG, alicloud: ALICLOUD_SECTION, retry: { maxAttempts: 5 } },
      sweepRate: 7,
    }).template;
    const variables = Object.values(t.findResources('AWS::Lambda::Function'))[0]?.Properties.Environment
      .Variables;
    expect(JSON.parse(variables.ATREST_CONFIG_JSON)).toEqual({ ...CONFIG, retry: { maxAttempts: 5 } });
    expect(variables.ATREST_SWEEP_RATE).toBe('7');
  });
});

describe('AtrestStack knobs', () => {
  it('takes another reserved concurrency, or none', () => {
    synth({ reservedConcurrency: 3 }).template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 3,
    });
    synth({ reservedConcurrency: null }).template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: Match.absent(),
    });
  });
});

describe('AtrestStack picks the log group key of the region it deploys to', () => {
  it('for a stack synthesised for us-east-1: the us-east-1 key', () => {
    const t = synth({ env: { account: '111122223333', region: 'us-east-1' } }).template;
    t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: KEY_ARN });
  });

  it('for an environment-agnostic stack: a per-region map, and a rule refusing unmapped regions', () => {
    const t = synth().template;
    t.hasMapping('RegionKey', { 'us-east-1': { arn: KEY_ARN }, 'eu-west-1': { arn: EU_KEY_ARN } });
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      KmsKeyId: { 'Fn::FindInMap': ['RegionKey', { Ref: 'AWS::Region' }, 'arn'] },
    });
    expect(t.toJSON().Rules.KeyForRegion.Assertions).toEqual([
      expect.objectContaining({
        Assert: { 'Fn::Contains': [['us-east-1', 'eu-west-1'], { Ref: 'AWS::Region' }] },
      }),
    ]);
  });
});

describe('AtrestStack creating its key (environment-agnostic)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({ createKey: true, config: { aws: { logGroupKms: { exclude: ['^/aws/lambda/atrest-'] } } } });
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged error or warning', () => {
    expect(s.violations).toEqual([]);
  });

  it('creates a rotating key whose policy lets CloudWatch Logs use it for this account’s log groups', () => {
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowCloudWatchLogs',
            Effect: 'Allow',
            // One principal per partition: the URL suffix is amazonaws.com.cn in China (as doctor expects).
            Principal: {
              Service: {
                'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
              },
            },
            Action: [
              'kms:Encrypt*',
              'kms:Decrypt*',
              'kms:ReEncrypt*',
              'kms:GenerateDataKey*',
              'kms:Describe*',
            ],
            Resource: '*',
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':logs:',
                      { Ref: 'AWS::Region' },
                      ':',
                      { Ref: 'AWS::AccountId' },
                      ':log-group:*',
                    ],
                  ],
                },
              },
            },
          },
        ]),
      },
    });
  });

  it('puts the created key into the function’s config and its own log group', () => {
    const keyArn = arnOf(s.stack, s.stack.key);
    const fn = Object.values(s.template.findResources('AWS::Lambda::Function'))[0];
    const config = fn?.Properties.Environment.Variables.ATREST_CONFIG_JSON;

    expect(config['Fn::Join'][1]).toContainEqual(keyArn);
    expect(config['Fn::Join'][1].join('')).toContain('"exclude":["^/aws/lambda/atrest-"]');
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: keyArn });
  });
});

describe('AtrestStack fails at synth', () => {
  const attempt = (props: Partial<AtrestStackProps>) => () => {
    const { app } = newApp();
    new AtrestStack(app, 'Atrest', { ...BASE, ...props });
  };

  it('on a bad key ARN, naming the field', () => {
    expect(attempt({ config: { aws: { logGroupKms: { kmsKeyArn: 'alias/logs' } } } })).toThrow(
      /config\.aws\.logGroupKms\.kmsKeyArn: is a key alias/,
    );
  });

  it('on a misspelt key, naming it', () => {
    expect(attempt({ config: { aws: { logGroupKms: { kmsKeyArn: KEY_ARN, exlude: [] } } } })).toThrow(
      /config\.aws\.logGroupKms: unknown key "exlude"/,
    );
  });

  it('on a bad field even when it creates the key', () => {
    expect(
      attempt({ createKey: true, config: { aws: { logGroupKms: { exclude: ['(unclosed'] } } } }),
    ).toThrow(/config\.aws\.logGroupKms\.exclude\.0: not a valid RE2 pattern "\(unclosed"/);
  });

  it('when the function is switched off and no key is created', () => {
    expect(attempt({ config: {} })).toThrow(ConfigError);
    expect(attempt({ config: {} })).toThrow(/config\.aws\.logGroupKms: required/);
  });

  it('when the config would not fit in Lambda’s environment, with the size and the variable', () => {
    const exclude = Array.from({ length: 200 }, (_, i) => `^/aws/lambda/some-long-prefix-${i}-`);
    expect(attempt({ config: { aws: { logGroupKms: { kmsKeyArn: KEY_ARN, exclude } } } })).toThrow(
      /environment would be \d+ bytes, over the Lambda limit of 4096 bytes.*ATREST_CONFIG_JSON/,
    );
  });

  it('not because of a long Alibaba section: that never reaches the Lambda environment', () => {
    expect(attempt({ config: { ...CONFIG, alicloud: ALICLOUD_SECTION } })).not.toThrow();
  });

  it('when no key is configured for the region the stack is synthesised for', () => {
    expect(attempt({ env: { account: '111122223333', region: 'ap-south-1' } })).toThrow(
      /config\.aws\.logGroupKms\.byRegion\.ap-south-1: no key for ap-south-1/,
    );
  });

  it('without an alarm e-mail, or with a reserved concurrency of 0', () => {
    expect(attempt({ alarmEmail: '' })).toThrow(/alarmEmail: required/);
    expect(attempt({ reservedConcurrency: 0 })).toThrow(/reservedConcurrency/);
  });

  it('when given another cloud’s permissions', () => {
    expect(attempt({ permissions: { cloud: 'alicloud', statements: permissions.statements } })).toThrow(
      /expected an aws PermissionSet/,
    );
  });
});

describe('with the feature flags of cdk.json (what `cdk synth` uses)', () => {
  it('still passes cdk-nag, with the region key and the composite alarm', () => {
    const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    };
    const outdir = mkdtempSync(join(tmpdir(), 'atrest-cdk-'));
    outdirs.push(outdir);
    const app = new App({ outdir, context: cdkJson.context });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new AtrestStack(app, 'Atrest', {
      ...BASE,
      env: { account: '111122223333', region: 'eu-west-1' },
    });
    const template = Template.fromStack(stack);
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));

    expect(Object.keys(cdkJson.context).length).toBeGreaterThan(80);
    expect(report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations)).toEqual([]);
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: EU_KEY_ARN });
    template.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
  });
});

describe('cdk-nag in these tests', () => {
  it('does fail synth on an unacknowledged finding', () => {
    const { app, outdir } = newApp();
    const stack = new AtrestStack(app, 'Atrest', BASE);
    new sqs.Queue(stack, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED });

    // CDK prints the report to stderr as well; keep the test output clean.
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(() => Template.fromStack(stack)).toThrow();
    } finally {
      stderr.mockRestore();
    }
    const report = readFileSync(join(outdir, 'validation-report.json'), 'utf8');
    expect(JSON.parse(report).pluginReports[0].violations).toContainEqual(
      expect.objectContaining({ ruleName: 'AwsSolutions-SQS2', severity: 'error' }),
    );
  });
});
