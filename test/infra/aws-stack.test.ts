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
import { parseConfig } from '../../functions/core/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import { fillResource } from '../../functions/core/permissions.ts';
import { AtrestStack, type AtrestStackProps, SWEEP_EVENT } from '../../infra/aws/lib/atrest-stack.ts';

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
/** A stub instead of the real bundle: stack tests stay fast; bundling is tested in bundle.test.ts. */
const STUB_CODE = lambda.Code.fromInline('exports.handler = async () => [];');
// Actions the platform wiring adds on top of permissions.ts (own log group, async DLQ, idempotency table).
const PLATFORM_ACTIONS = [
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'sqs:SendMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

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
  const stack = new AtrestStack(app, 'Atrest', { config: CONFIG, permissions, code: STUB_CODE, ...props });
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
      SqsManagedSseEnabled: true,
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
      SSESpecification: { SSEEnabled: true },
    });
    expect(policyStatements(s.template)).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Resource: [arnOf(s.stack, s.stack.table)],
      }),
    );
  });

  it('alarms on function errors, both DLQs and the failed/deferred outcome metric, to an encrypted topic', () => {
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
      AlarmActions: [topic],
    });

    s.template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
    s.template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic],
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
    });
    for (const queue of [s.stack.eventDlq, s.stack.asyncDlq])
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ref(s.stack, queue), 'QueueName'] } }],
      });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', outcome('failed'));
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', outcome('deferred'));
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
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
    new AtrestStack(app, 'Atrest', { config: CONFIG, permissions, code: STUB_CODE, ...props });
  };

  it('on a bad key ARN, naming the field', () => {
    expect(attempt({ config: { aws: { logGroupKms: { kmsKeyArn: 'alias/logs' } } } })).toThrow(
      /config\.aws\.logGroupKms\.kmsKeyArn: does not match/,
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

  it('when the config would not fit in Lambda’s environment', () => {
    const exclude = Array.from({ length: 200 }, (_, i) => `^/aws/lambda/some-long-prefix-${i}-`);
    expect(attempt({ config: { aws: { logGroupKms: { kmsKeyArn: KEY_ARN, exclude } } } })).toThrow(/4 KB/);
  });

  it('when given another cloud’s permissions', () => {
    expect(attempt({ permissions: { cloud: 'alicloud', statements: permissions.statements } })).toThrow(
      /expected an aws PermissionSet/,
    );
  });
});

describe('cdk-nag in these tests', () => {
  it('does fail synth on an unacknowledged finding', () => {
    const { app, outdir } = newApp();
    const stack = new AtrestStack(app, 'Atrest', { config: CONFIG, permissions, code: STUB_CODE });
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
