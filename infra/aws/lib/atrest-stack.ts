/**
 * Everything `aws.log-group-kms` needs in one account and region:
 *
 *   CloudTrail CreateLogGroup ─▶ EventBridge rule ─▶ Lambda ─▶ logs:AssociateKmsKey
 *   (+ tampers: DisassociateKmsKey, AssociateKmsKey)
 *   daily schedule {"atrest":{"sweep":true}} ─┘         │ (reserved concurrency: 20 by default)
 *          (target failures ─▶ event DLQ)               ├─▶ DynamoDB idempotency table
 *                                                       └─▶ async failures ─▶ async DLQ
 *   alarms (errors, throttles, both DLQs, outcome=failed, incomplete sweep) ─▶ one composite
 *   alarm ─▶ SNS topic with an e-mail subscription (required: alarms that reach nobody are none)
 *
 * atrest's own data (table, queues, topic) is encrypted with a customer managed key the stack owns
 * (`DataKey`): a tool that enforces encryption passes its own check, and the key policy can grant
 * EventBridge and CloudWatch, which an imported key's policy would not.
 *
 * The config is validated here, at synth, with the same parser the function runs at start-up:
 * a bad config fails `cdk synth` naming the field instead of failing every invocation.
 * IAM comes from functions/aws/log-group-kms/permissions.ts, never retyped.
 *
 * Prerequisite outside this stack: a CloudTrail trail that records management events in this
 * region (EventBridge gets "AWS API Call via CloudTrail" events only with a trail).
 */

import {
  Aws,
  CfnMapping,
  CfnOutput,
  CfnRule,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ConfigError } from '#core/errors';
import type { PermissionSet } from '#core/permissions';
import { fillResource } from '#core/permissions';
import { DEFAULT_SWEEP_RATE, sweepRateFrom } from '#core/sweep';
import { manifest as logGroupKms } from '../../../functions/aws/log-group-kms/manifest.ts';
import { type Config, parseConfig } from '../../../functions/config.ts';
import { checkEnvironmentSize } from '../../env-size.ts';
import { functionConfig } from '../../functions.ts';
import { RemediationFunction } from './remediation-function.ts';

export const FUNCTION_ID = logGroupKms.id;
/**
 * The AWS functions this stack deploys (the meta-test fails for an AWS manifest missing here: the
 * stack is built around its one function today, so a second one needs its own rule and Lambda).
 */
export const AWS_DEPLOYED_IDS: readonly string[] = [FUNCTION_ID];
/** Namespace and metric name of the EMF outcome metric the handler emits (dimensions `function`, `outcome`). */
export const OUTCOME_NAMESPACE = 'atrest';
export const OUTCOME_METRIC = 'Outcome';
/** The sweep event the scheduled rule sends; the handler must run a sweep when it sees it. */
export const SWEEP_EVENT = { atrest: { sweep: true } } as const;
/** The metric the log group's metric filter counts: one per sweep run that did not finish. */
export const SWEEP_INCOMPLETE_METRIC = 'SweepIncomplete';
/** Default reserved concurrency: the bench shows the adaptive limiter holds up to a few dozen instances. */
export const DEFAULT_RESERVED_CONCURRENCY = 20;
/** Stands in for the created key's ARN while the config is validated at synth. */
const PLACEHOLDER_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';

export interface AtrestStackProps extends StackProps {
  /** The config document (README, Configuration), as parsed JSON; validated here. */
  config: unknown;
  /** The function's permissions (functions/aws/log-group-kms/permissions.ts). */
  permissions: PermissionSet;
  /** The function's code: the prebuilt bundle, `lambda.Code.fromAsset(bundle.dir)`. */
  code: lambda.Code;
  /**
   * true: create a KMS key (rotation on, key policy for CloudWatch Logs) and use it as this
   * region's `aws.logGroupKms.kmsKeyArn`. false (default): use the key ARN from the config.
   */
  createKey?: boolean;
  /**
   * Reserved concurrency: caps parallel instances, so a burst of creations cannot exhaust the
   * account's Logs API quota. Default 20; `null` removes the cap (then the account's unreserved pool).
   */
  reservedConcurrency?: number | null;
  /** The e-mail address subscribed to the alarm topic; required, so an alarm reaches someone. */
  alarmEmail: string;
  /** How often the sweep runs; default once a day. */
  sweepSchedule?: events.Schedule;
  /** API calls per second of the scheduled sweep (`ATREST_SWEEP_RATE`, at most 100); default 5. */
  sweepRate?: number;
}

export class AtrestStack extends Stack {
  readonly function: RemediationFunction;
  readonly key: kms.IKey;
  readonly table: dynamodb.Table;
  readonly eventDlq: sqs.Queue;
  readonly asyncDlq: sqs.Queue;
  readonly alarmTopic: sns.Topic;
  readonly dataKey: kms.Key;
  readonly attentionAlarm: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: AtrestStackProps) {
    super(scope, id, props);
    if (props.permissions.cloud !== 'aws')
      throw new ConfigError([`permissions: expected an aws PermissionSet, got ${props.permissions.cloud}`]);

    const { key, configJson } = this.keyAndConfig(props);
    this.key = key;
    this.dataKey = this.createDataKey();

    this.eventDlq = this.deadLetterQueue('EventDlq', 'EventBridge could not deliver to the function');
    this.asyncDlq = this.deadLetterQueue('AsyncDlq', 'the function failed after its async retries');

    this.table = new dynamodb.Table(this, 'Idempotency', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      // Powertools' DynamoDBPersistenceLayer defaults: key `id`, expiry `expiration` (epoch seconds).
      timeToLiveAttribute: 'expiration',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      // Records expire within hours; nothing in the table outlives its TTL.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Validated here with the function's own parser, so a bad rate fails the synth, not every run.
    const sweepRate = String(
      sweepRateFrom({ ATREST_SWEEP_RATE: String(props.sweepRate ?? DEFAULT_SWEEP_RATE) }),
    );
    const environment = {
      ATREST_CONFIG_JSON: configJson.text,
      IDEMPOTENCY_TABLE_NAME: this.table.tableName,
      ATREST_SWEEP_RATE: sweepRate,
    };
    checkEnvironmentSize(FUNCTION_ID, 'Lambda', {
      ATREST_CONFIG_JSON: { text: configJson.sized, tokens: configJson.tokens },
      IDEMPOTENCY_TABLE_NAME: { tokens: 1 },
      ATREST_SWEEP_RATE: { text: sweepRate },
    });
    const reserved =
      props.reservedConcurrency === undefined ? DEFAULT_RESERVED_CONCURRENCY : props.reservedConcurrency;
    if (reserved !== null && (!Number.isInteger(reserved) || reserved < 1))
      throw new ConfigError([
        `reservedConcurrency: expected a whole number of at least 1 (0 would throttle every event), got ${reserved}`,
      ]);
    this.function = new RemediationFunction(this, 'LogGroupKms', {
      functionId: FUNCTION_ID,
      code: props.code,
      environment,
      logEncryptionKey: key,
      // The daily sweep pages through every log group in one invocation.
      timeout: Duration.minutes(5),
      onFailure: this.asyncDlq,
      ...(reserved !== null ? { reservedConcurrentExecutions: reserved } : {}),
    });
    // The async DLQ and the table are encrypted with the data key: the role may use it, nothing more.
    this.dataKey.grant(this.function, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
    // Narrow grant: the four item calls Powertools makes, nothing else (no Scan, no Query).
    this.table.grant(
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
    this.grantFromPermissions(props.permissions);

    const target = (event?: events.RuleTargetInput) =>
      new targets.LambdaFunction(this.function, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: this.eventDlq,
        ...(event ? { event } : {}),
      });
    new events.Rule(this, 'OnCreateLogGroup', {
      description:
        'CloudTrail CreateLogGroup and the tampers DisassociateKmsKey/AssociateKmsKey (successful calls only) to atrest aws.log-group-kms',
      eventPattern: {
        source: ['aws.logs'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['logs.amazonaws.com'],
          // Creations, and the tamper events whose restore (enforce: "always") needs no other permission.
          eventName: [...logGroupKms.trigger.eventNames],
          errorCode: events.Match.doesNotExist(),
          errorMessage: events.Match.doesNotExist(),
        },
      },
      targets: [target()],
    });
    // The backstop for events CloudTrail delivers "on a best effort basis" and for groups that
    // existed before the deployment. The handler runs a sweep when it receives SWEEP_EVENT.
    new events.Rule(this, 'Sweep', {
      description: 'Periodic sweep: atrest aws.log-group-kms remediates every non-compliant log group',
      schedule: props.sweepSchedule ?? events.Schedule.rate(Duration.days(1)),
      targets: [target(events.RuleTargetInput.fromObject(SWEEP_EVENT))],
    });

    const { topic, attention } = this.alarms(props.alarmEmail);
    this.alarmTopic = topic;
    this.attentionAlarm = attention;

    new CfnOutput(this, 'FunctionName', { value: this.function.functionName });
    new CfnOutput(this, 'KeyArn', { value: key.keyArn });
    new CfnOutput(this, 'IdempotencyTableName', { value: this.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'EventDlqUrl', { value: this.eventDlq.queueUrl });
    new CfnOutput(this, 'AsyncDlqUrl', { value: this.asyncDlq.queueUrl });
  }

  /**
   * Validates the config (throws ConfigError naming the field) and picks or creates the key. The
   * function's environment gets only its own section (functionConfig): no Alibaba ids, and the
   * 4 KB budget is spent on what this function reads.
   */
  private keyAndConfig(props: AtrestStackProps): {
    key: kms.IKey;
    configJson: { text: string; sized: string; tokens: number };
  } {
    if (!props.createKey) {
      const config = parseConfig(props.config);
      const section = config.aws?.logGroupKms;
      if (section === undefined)
        throw new ConfigError([
          'config.aws.logGroupKms: required to deploy aws.log-group-kms (or pass createKey=true to create the key)',
        ]);
      const text = JSON.stringify(functionConfig(FUNCTION_ID, config));
      return {
        key: kms.Key.fromKeyArn(this, 'Key', this.regionKeyArn(section)),
        configJson: { text, sized: text, tokens: 0 },
      };
    }
    const key = this.createLogsKey();
    const raw = asObject(props.config, 'config');
    const aws = asObject(raw.aws ?? {}, 'config.aws');
    const section = asObject(aws.logGroupKms ?? {}, 'config.aws.logGroupKms');
    const withPlaceholder = {
      ...raw,
      aws: { ...aws, logGroupKms: { ...section, kmsKeyArn: PLACEHOLDER_KEY_ARN } },
    };
    const config: Config = parseConfig(withPlaceholder);
    const own = functionConfig(FUNCTION_ID, config) as Config;
    const withKey = {
      ...own,
      aws: { ...own.aws, logGroupKms: { ...own.aws?.logGroupKms, kmsKeyArn: key.keyArn } },
    };
    const sized = JSON.stringify({
      ...own,
      aws: { ...own.aws, logGroupKms: { ...own.aws?.logGroupKms, kmsKeyArn: '' } },
    });
    return { key, configJson: { text: this.toJsonString(withKey), sized, tokens: 1 } };
  }

  /**
   * The key for the function's own log group must live in the stack's region (a KMS key serves
   * only its own region). A stack synthesised for a region picks `byRegion[region]`, else
   * `kmsKeyArn` when it is in that region. An environment-agnostic stack maps every configured
   * region to its key (`Fn::FindInMap` on `AWS::Region`), and a rule refuses the deployment in a
   * region without one, naming it, before any resource is created.
   */
  private regionKeyArn(section: NonNullable<NonNullable<Config['aws']>['logGroupKms']>): string {
    const byRegion = new Map<string, string>();
    byRegion.set(arnRegion(section.kmsKeyArn), section.kmsKeyArn);
    for (const [region, arn] of Object.entries(section.byRegion ?? {})) byRegion.set(region, arn);
    if (!Token.isUnresolved(this.region)) {
      const arn = byRegion.get(this.region);
      if (arn === undefined || arnRegion(arn) !== this.region)
        throw new ConfigError([
          `config.aws.logGroupKms.byRegion.${this.region}: no key for ${this.region}, where this stack deploys (kmsKeyArn is in ${arnRegion(section.kmsKeyArn)}; a KMS key serves only its own region)`,
        ]);
      return arn;
    }
    const mapping = new CfnMapping(this, 'RegionKey', {
      mapping: Object.fromEntries([...byRegion].map(([region, arn]) => [region, { arn }])),
    });
    new CfnRule(this, 'KeyForRegion', {
      assertions: [
        {
          assert: Fn.conditionContains([...byRegion.keys()], Aws.REGION),
          assertDescription: `atrest: config.aws.logGroupKms has no key for this region (configured: ${[...byRegion.keys()].join(', ')}); add byRegion.<region>`,
        },
      ],
    });
    return mapping.findInMap(Aws.REGION, 'arn');
  }

  /** A symmetric key with rotation and the key policy CloudWatch Logs needs to use it. */
  private createLogsKey(): kms.Key {
    const key = new kms.Key(this, 'Key', {
      description: 'atrest: encrypts CloudWatch Logs log groups at rest',
      enableKeyRotation: true,
      alias: 'alias/atrest/logs',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogs',
        // Regional and partitional: logs.<region>.amazonaws.com, logs.cn-north-1.amazonaws.com.cn in
        // China (aws-cdk region-info: `case 'logs': return regionalPartitional`).
        principals: [new iam.ServicePrincipal(`logs.${this.region}.${this.urlSuffix}`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:*`,
          },
        },
      }),
    );
    return key;
  }

  /** One IAM statement per permissions.ts statement: the exact actions, resources filled in. */
  private grantFromPermissions(permissions: PermissionSet): void {
    const filled = { partition: this.partition, account: this.account, region: this.region };
    // How cdk-nag prints the same ARN: unresolved pseudo parameters as `<AWS::…>`.
    const shown = {
      partition: Token.isUnresolved(this.partition) ? '<AWS::Partition>' : this.partition,
      account: Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account,
      region: Token.isUnresolved(this.region) ? '<AWS::Region>' : this.region,
    };
    for (const statement of permissions.statements) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [...statement.actions],
          resources: statement.resources.map((r) => fillResource(r, filled)),
        }),
      );
      for (const resource of statement.resources.filter((r) => r.includes('*')))
        Validations.of(this.function.role ?? this.function).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${fillResource(resource, shown)}]`,
          reason:
            resource === '*'
              ? `${statement.actions.join(', ')}: no resource-level scoping exists for this action, so IAM needs "*" (${statement.why}).`
              : `${statement.actions.join(', ')} on ${resource}: it acts on resources created later, whose names are not known in advance (${statement.why}).`,
        });
    }
  }

  private deadLetterQueue(id: string, what: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.dataKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `This queue is itself a dead-letter queue (${what}); a DLQ of a DLQ would only move the problem.`,
    });
    return queue;
  }

  /**
   * The key of atrest's own data: the idempotency table, both dead-letter queues and the alarm
   * topic. Its policy lets EventBridge write to the event DLQ and CloudWatch publish to the topic,
   * each only for this account; the function role gets its use by IAM grant.
   */
  private createDataKey(): kms.Key {
    const key = new kms.Key(this, 'DataKey', {
      description: 'atrest: encrypts its own idempotency table, dead-letter queues and alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const [sid, service] of [
      ['AllowEventBridgeToDeadLetterQueue', 'events.amazonaws.com'],
      ['AllowCloudWatchAlarmsToTopic', 'cloudwatch.amazonaws.com'],
    ] as const)
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      );
    return key;
  }

  /**
   * One alarm per cause, and one composite alarm over them that alone notifies: a failed
   * remediation shows as an outcome, a function error and later a DLQ message, and should page once.
   */
  private alarms(email: string): { topic: sns.Topic; attention: cloudwatch.CompositeAlarm } {
    if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email))
      throw new ConfigError([
        `alarmEmail: required, an e-mail address that receives atrest's alarms (got ${JSON.stringify(email)}); pass -c alarmEmail=oncall@example.com`,
      ]);
    const topic = new sns.Topic(this, 'Alarms', {
      displayName: 'atrest alarms',
      masterKey: this.dataKey,
      enforceSSL: true,
    });
    topic.addSubscription(new subscriptions.EmailSubscription(email));

    // `{"message":"sweep","complete":false,…}`: the handler's summary of a sweep that did not finish.
    new logs.MetricFilter(this, 'SweepIncompleteFilter', {
      logGroup: this.function.logGroupOwn,
      filterPattern: logs.FilterPattern.literal('{ $.message = "sweep" && $.complete IS FALSE }'),
      metricNamespace: OUTCOME_NAMESPACE,
      metricName: SWEEP_INCOMPLETE_METRIC,
      metricValue: '1',
      defaultValue: 0,
    });
    const period = Duration.minutes(5);
    const outcome = (outcome: 'failed' | 'deferred') =>
      new cloudwatch.Metric({
        namespace: OUTCOME_NAMESPACE,
        metricName: OUTCOME_METRIC,
        dimensionsMap: { function: FUNCTION_ID, outcome },
        statistic: cloudwatch.Stats.SUM,
        period,
      });
    const alarms: Array<[string, cloudwatch.IMetric, string]> = [
      ['FunctionErrors', this.function.metricErrors({ period }), 'the function threw'],
      ['FunctionThrottles', this.function.metricThrottles({ period }), 'invocations were throttled'],
      [
        'EventDlqDepth',
        this.eventDlq.metricApproximateNumberOfMessagesVisible({ period }),
        'EventBridge could not deliver events to the function',
      ],
      [
        'AsyncDlqDepth',
        this.asyncDlq.metricApproximateNumberOfMessagesVisible({ period }),
        'the function failed an event after all retries',
      ],
      ['OutcomeFailed', outcome('failed'), 'a log group could not be encrypted (outcome failed)'],
      [
        'SweepIncomplete',
        new cloudwatch.Metric({
          namespace: OUTCOME_NAMESPACE,
          metricName: SWEEP_INCOMPLETE_METRIC,
          statistic: cloudwatch.Stats.SUM,
          period,
        }),
        'the scheduled sweep stopped before it reached every log group',
      ],
    ];
    const children = alarms.map(
      ([id, metric, why]) =>
        new cloudwatch.Alarm(this, id, {
          alarmDescription: `atrest ${FUNCTION_ID}: ${why}`,
          metric,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
    );
    // Deferred is not a failure (a retry is scheduled): visible in the console, never paging.
    new cloudwatch.Alarm(this, 'OutcomeDeferred', {
      alarmDescription: `atrest ${FUNCTION_ID}: a log group was not ready and is waiting for a retry (informational)`,
      metric: outcome('deferred'),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const attention = new cloudwatch.CompositeAlarm(this, 'Attention', {
      alarmDescription: `atrest ${FUNCTION_ID}: something may be left unencrypted; the child alarm in ALARM says what`,
      alarmRule: cloudwatch.AlarmRule.anyOf(...children),
    });
    attention.addAlarmAction(new SnsAction(topic));
    return { topic, attention };
  }
}

/** The region of a KMS key ARN (`arn:aws:kms:<region>:…`). */
function arnRegion(arn: string): string {
  return arn.split(':')[3] ?? '';
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError([`${where}: expected object`]);
  return value as Record<string, unknown>;
}
