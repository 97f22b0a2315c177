/**
 * Everything `aws.log-group-kms` needs in one account and region:
 *
 *   CloudTrail CreateLogGroup ─▶ EventBridge rule ─▶ Lambda ─▶ logs:AssociateKmsKey
 *   (+ tampers: DisassociateKmsKey, AssociateKmsKey)
 *   daily schedule {"atrest":{"sweep":true}} ─┘         │
 *          (target failures ─▶ event DLQ)               ├─▶ DynamoDB idempotency table
 *                                                       └─▶ async failures ─▶ async DLQ
 *   alarms (function errors, both DLQs, EMF outcome=failed|deferred) ─▶ encrypted SNS topic
 *
 * The config is validated here, at synth, with the same parser the function runs at start-up:
 * a bad config fails `cdk synth` naming the field instead of failing every invocation.
 * IAM comes from functions/aws/log-group-kms/permissions.ts, never retyped.
 *
 * Prerequisite outside this stack: a CloudTrail trail that records management events in this
 * region (EventBridge gets "AWS API Call via CloudTrail" events only with a trail).
 */

import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { parseConfig } from '#core/config';
import { ConfigError } from '#core/errors';
import type { PermissionSet } from '#core/permissions';
import { fillResource } from '#core/permissions';
import { RemediationFunction } from './remediation-function.ts';

export const FUNCTION_ID = 'aws.log-group-kms';
/** Namespace and metric name of the EMF outcome metric the handler emits (dimensions `function`, `outcome`). */
export const OUTCOME_NAMESPACE = 'atrest';
export const OUTCOME_METRIC = 'Outcome';
/** The sweep event the scheduled rule sends; the handler must run a sweep when it sees it. */
export const SWEEP_EVENT = { atrest: { sweep: true } } as const;
/** Lambda's limit is 4 KB for all variables together; leave room for the others. */
const MAX_CONFIG_BYTES = 3_500;
/** Stands in for the created key's ARN while the config is validated at synth. */
const PLACEHOLDER_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';

export interface AtrestStackProps extends StackProps {
  /** The config document (CONTRACT.md section 3), as parsed JSON; validated here. */
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
  /** Reserved concurrency for the function; default none. */
  reservedConcurrency?: number;
  /** An e-mail address subscribed to the alarm topic; default none. */
  alarmEmail?: string;
  /** How often the sweep runs; default once a day. */
  sweepSchedule?: events.Schedule;
}

export class AtrestStack extends Stack {
  readonly function: RemediationFunction;
  readonly key: kms.IKey;
  readonly table: dynamodb.Table;
  readonly eventDlq: sqs.Queue;
  readonly asyncDlq: sqs.Queue;
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: AtrestStackProps) {
    super(scope, id, props);
    if (props.permissions.cloud !== 'aws')
      throw new ConfigError([`permissions: expected an aws PermissionSet, got ${props.permissions.cloud}`]);

    const { key, configJson } = this.keyAndConfig(props);
    this.key = key;

    this.eventDlq = this.deadLetterQueue('EventDlq', 'EventBridge could not deliver to the function');
    this.asyncDlq = this.deadLetterQueue('AsyncDlq', 'the function failed after its async retries');

    this.table = new dynamodb.Table(this, 'Idempotency', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      // Powertools' DynamoDBPersistenceLayer defaults: key `id`, expiry `expiration` (epoch seconds).
      timeToLiveAttribute: 'expiration',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Records expire within hours; nothing in the table outlives its TTL.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.function = new RemediationFunction(this, 'LogGroupKms', {
      functionId: FUNCTION_ID,
      code: props.code,
      environment: {
        ATREST_CONFIG_JSON: configJson,
        IDEMPOTENCY_TABLE_NAME: this.table.tableName,
      },
      logEncryptionKey: key,
      // The daily sweep pages through every log group in one invocation.
      timeout: Duration.minutes(5),
      onFailure: this.asyncDlq,
      ...(props.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrency }
        : {}),
    });
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
          eventName: ['CreateLogGroup', 'DisassociateKmsKey', 'AssociateKmsKey'],
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

    this.alarmTopic = this.alarms(props.alarmEmail);

    new CfnOutput(this, 'FunctionName', { value: this.function.functionName });
    new CfnOutput(this, 'KeyArn', { value: key.keyArn });
    new CfnOutput(this, 'IdempotencyTableName', { value: this.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'EventDlqUrl', { value: this.eventDlq.queueUrl });
    new CfnOutput(this, 'AsyncDlqUrl', { value: this.asyncDlq.queueUrl });
  }

  /** Validates the config (throws ConfigError naming the field) and picks or creates the key. */
  private keyAndConfig(props: AtrestStackProps): { key: kms.IKey; configJson: string } {
    if (!props.createKey) {
      const config = parseConfig(props.config);
      const section = config.aws?.logGroupKms;
      if (section === undefined)
        throw new ConfigError([
          'config.aws.logGroupKms: required to deploy aws.log-group-kms (or pass createKey=true to create the key)',
        ]);
      const region = Token.isUnresolved(this.region) ? undefined : this.region;
      const arn = (region !== undefined ? section.byRegion?.[region] : undefined) ?? section.kmsKeyArn;
      return { key: kms.Key.fromKeyArn(this, 'Key', arn), configJson: checkedSize(JSON.stringify(config)) };
    }
    const key = this.createLogsKey();
    const raw = asObject(props.config, 'config');
    const aws = asObject(raw.aws ?? {}, 'config.aws');
    const section = asObject(aws.logGroupKms ?? {}, 'config.aws.logGroupKms');
    const withPlaceholder = {
      ...raw,
      aws: { ...aws, logGroupKms: { ...section, kmsKeyArn: PLACEHOLDER_KEY_ARN } },
    };
    const config = parseConfig(withPlaceholder);
    checkedSize(JSON.stringify(config));
    const withKey = {
      ...config,
      aws: { ...config.aws, logGroupKms: { ...config.aws?.logGroupKms, kmsKeyArn: key.keyArn } },
    };
    return { key, configJson: this.toJsonString(withKey) };
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
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `This queue is itself a dead-letter queue (${what}); a DLQ of a DLQ would only move the problem.`,
    });
    return queue;
  }

  /** Alarms on everything that means "a resource may be left unencrypted", to an encrypted topic. */
  private alarms(email: string | undefined): sns.Topic {
    // CloudWatch can publish to an encrypted topic only with a customer managed key that allows it.
    const topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'atrest: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    const topic = new sns.Topic(this, 'Alarms', {
      displayName: 'atrest alarms',
      masterKey: topicKey,
      enforceSSL: true,
    });
    if (email !== undefined) topic.addSubscription(new subscriptions.EmailSubscription(email));
    const action = new SnsAction(topic);

    const outcome = (outcome: 'failed' | 'deferred') =>
      new cloudwatch.Metric({
        namespace: OUTCOME_NAMESPACE,
        metricName: OUTCOME_METRIC,
        dimensionsMap: { function: FUNCTION_ID, outcome },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(5),
      });
    const alarms: Array<[string, cloudwatch.IMetric, string]> = [
      ['FunctionErrors', this.function.metricErrors({ period: Duration.minutes(5) }), 'the function threw'],
      [
        'EventDlqDepth',
        this.eventDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
        'EventBridge could not deliver events to the function',
      ],
      [
        'AsyncDlqDepth',
        this.asyncDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
        'the function failed an event after all retries',
      ],
      ['OutcomeFailed', outcome('failed'), 'a log group could not be encrypted (outcome failed)'],
      ['OutcomeDeferred', outcome('deferred'), 'a log group was not ready and is waiting for a retry'],
    ];
    for (const [id, metric, why] of alarms) {
      const alarm = new cloudwatch.Alarm(this, id, {
        alarmDescription: `atrest ${FUNCTION_ID}: ${why}`,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
    }
    return topic;
  }
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError([`${where}: expected object`]);
  return value as Record<string, unknown>;
}

function checkedSize(json: string): string {
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_CONFIG_BYTES)
    throw new ConfigError([
      `config: ${bytes} bytes as JSON; Lambda environment variables hold at most 4 KB in total (limit here ${MAX_CONFIG_BYTES})`,
    ]);
  return json;
}
