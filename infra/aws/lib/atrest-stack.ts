/**
 * Everything the AWS functions need in one account and region. The stack loops over the AWS
 * manifests (functions/manifests.ts `manifestsOf('aws')`): each configured one gets its Lambda,
 * its rule, its sweep schedule if it sweeps, its key and its alarms, from its manifest (`trigger`,
 * `aws`, `keyParameters`) and its config section (`keys`); the DLQs, the idempotency table, the
 * data key and the alarm topic are shared. A new AWS function is a folder and a registry line,
 * never an edit here. For `aws.log-group-kms`:
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
 * IAM comes from each function's permissions.ts, never retyped.
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
import type { FunctionManifest } from '#core/manifest';
import type { FunctionId } from '#core/outcome';
import type { PermissionSet } from '#core/permissions';
import { fillResource } from '#core/permissions';
import { parseConfig } from '../../../functions/config.ts';
import { manifestsOf } from '../../../functions/manifests.ts';
import { checkEnvironmentSize } from '../../env-size.ts';
import { deployedSweepRate, functionConfig, reservedConcurrencyOf } from '../../functions.ts';
import { RemediationFunction } from './remediation-function.ts';

/** The AWS functions, in registry order: the ones this stack can deploy. */
const AWS_MANIFESTS: readonly FunctionManifest[] = manifestsOf('aws');
/**
 * The first AWS function (registry order): its resources keep the stack's original logical ids
 * (`Sweep`, `Attention`, …) and it is the function organization mode forwards members' events to.
 * Every other function's ids are prefixed with its construct id (its section, capitalised).
 */
export const FUNCTION_ID: FunctionId = (AWS_MANIFESTS[0] as FunctionManifest).id;
/** The AWS functions this stack deploys: every AWS manifest (each when its section is configured). */
export const AWS_DEPLOYED_IDS: readonly FunctionId[] = AWS_MANIFESTS.map((m) => m.id);
/** Namespace and metric name of the EMF outcome metric the handler emits (dimensions `function`, `outcome`). */
export const OUTCOME_NAMESPACE = 'atrest';
export const OUTCOME_METRIC = 'Outcome';
/** The sweep event the scheduled rule sends; the handler must run a sweep when it sees it. */
export const SWEEP_EVENT = { atrest: { sweep: true } } as const;
/** The metric the log group's metric filter counts: one per sweep run that did not finish. */
export const SWEEP_INCOMPLETE_METRIC = 'SweepIncomplete';

/** Stands in for the created key's ARN while the config is validated at synth. */
const PLACEHOLDER_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';

/** Per function, or one value when the stack deploys one function. */
type PerFunction<T> = T | Readonly<Record<string, T>>;

export interface AtrestStackProps extends StackProps {
  /** The config document (README, Configuration), as parsed JSON; validated here. */
  config: unknown;
  /** Each function's permissions (functions/aws/<fn>/permissions.ts), by function id. */
  permissions: PerFunction<PermissionSet>;
  /** Each function's code, by function id: the prebuilt bundle, `lambda.Code.fromAsset(bundle.dir)`. */
  code: PerFunction<lambda.Code>;
  /**
   * true: create each function's KMS key (rotation on, key policy for its service, manifest
   * `aws.createdKey`) and use it as this region's key of its section. false (default): use the
   * key ARNs from the config.
   */
  createKey?: boolean;
  /**
   * Reserved concurrency per function: caps parallel instances, so a burst of creations cannot
   * exhaust the account's API quota. Default 20; `null` removes the cap (then the unreserved pool).
   */
  reservedConcurrency?: number | null;
  /** The e-mail address subscribed to the alarm topic; required, so an alarm reaches someone. */
  alarmEmail: string;
  /** How often the sweep runs; default once a day. */
  sweepSchedule?: events.Schedule;
  /** API calls per second of the scheduled sweep (`ATREST_SWEEP_RATE`, at most 100); default 5. */
  sweepRate?: number;
}

/** One deployed function: its manifest, its Lambda, its key. */
export interface DeployedFunction {
  readonly manifest: FunctionManifest;
  readonly function: RemediationFunction;
  readonly key: kms.IKey;
}

export class AtrestStack extends Stack {
  /** The first deployed function (registry order): organization mode's target. */
  readonly function: RemediationFunction;
  /** Its key. */
  readonly key: kms.IKey;
  /** Every deployed function, in registry order. */
  readonly functions: readonly DeployedFunction[];
  readonly table: dynamodb.Table;
  readonly eventDlq: sqs.Queue;
  readonly asyncDlq: sqs.Queue;
  readonly alarmTopic: sns.Topic;
  readonly dataKey: kms.Key;
  /** The first deployed function's composite alarm. */
  readonly attentionAlarm: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: AtrestStackProps) {
    super(scope, id, props);
    const deployed = this.keysAndConfigs(props);
    const permissionsOf = pick(
      props.permissions,
      deployed,
      (v): v is PermissionSet => 'statements' in v,
      'permissions',
    );
    const codeOf = pick(
      props.code,
      deployed,
      (v): v is lambda.Code => typeof (v as lambda.Code).bind === 'function',
      'code',
    );
    for (const { manifest } of deployed)
      if (permissionsOf(manifest.id).cloud !== 'aws')
        throw new ConfigError([
          `permissions: expected an aws PermissionSet, got ${permissionsOf(manifest.id).cloud}`,
        ]);
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

    const sweepRate = deployedSweepRate(props.sweepRate);
    const reserved = reservedConcurrencyOf(props.reservedConcurrency);

    const functions = deployed.map(({ manifest, key, configJson }) => {
      const fn = this.deployFunction(manifest, {
        key,
        configJson,
        sweepRate,
        reserved,
        code: codeOf(manifest.id),
        permissions: permissionsOf(manifest.id),
        ...(props.sweepSchedule ? { sweepSchedule: props.sweepSchedule } : {}),
      });
      return { manifest, function: fn, key };
    });
    this.functions = functions;
    const first = functions[0] as DeployedFunction;
    this.function = first.function;
    this.key = first.key;

    const { topic, attention } = this.alarms(props.alarmEmail, functions);
    this.alarmTopic = topic;
    this.attentionAlarm = attention;

    for (const { manifest, function: fn, key } of functions) {
      const scoped = idsOf(manifest);
      new CfnOutput(this, scoped('FunctionName'), { value: fn.functionName });
      new CfnOutput(this, scoped('KeyArn'), { value: key.keyArn });
    }
    new CfnOutput(this, 'IdempotencyTableName', { value: this.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'EventDlqUrl', { value: this.eventDlq.queueUrl });
    new CfnOutput(this, 'AsyncDlqUrl', { value: this.asyncDlq.queueUrl });
  }

  /** One function: its Lambda, its grants, its event rule and (if it sweeps) its sweep schedule. */
  private deployFunction(
    manifest: FunctionManifest,
    o: {
      key: kms.IKey;
      configJson: { text: string; sized: string; tokens: number };
      sweepRate: string;
      reserved: number | null;
      code: lambda.Code;
      permissions: PermissionSet;
      sweepSchedule?: events.Schedule;
    },
  ): RemediationFunction {
    const { id, trigger, events: names } = manifest;
    const spec = awsSpec(manifest);
    const scoped = idsOf(manifest);
    const environment = {
      ATREST_CONFIG_JSON: o.configJson.text,
      IDEMPOTENCY_TABLE_NAME: this.table.tableName,
      ATREST_SWEEP_RATE: o.sweepRate,
    };
    checkEnvironmentSize(id, 'Lambda', {
      ATREST_CONFIG_JSON: { text: o.configJson.sized, tokens: o.configJson.tokens },
      IDEMPOTENCY_TABLE_NAME: { tokens: 1 },
      ATREST_SWEEP_RATE: { text: o.sweepRate },
    });
    const fn = new RemediationFunction(this, constructIdOf(manifest), {
      functionId: id,
      code: o.code,
      environment,
      logEncryptionKey: o.key,
      ...(trigger.timeoutSeconds ? { timeout: Duration.seconds(trigger.timeoutSeconds) } : {}),
      onFailure: this.asyncDlq,
      ...(o.reserved !== null ? { reservedConcurrentExecutions: o.reserved } : {}),
    });
    // The async DLQ and the table are encrypted with the data key: the role may use it, nothing more.
    this.dataKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
    // Narrow grant: the four item calls Powertools makes, nothing else (no Scan, no Query).
    this.table.grant(
      fn,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
    this.grantFromPermissions(fn, o.permissions);

    const target = (event?: events.RuleTargetInput) =>
      new targets.LambdaFunction(fn, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: this.eventDlq,
        ...(event ? { event } : {}),
      });
    const tampers = names.tamper.length > 0 ? ` and the tampers ${names.tamper.join('/')}` : '';
    new events.Rule(this, `On${names.creation[0] ?? 'Event'}`, {
      description: `CloudTrail ${names.creation.join('/')}${tampers} (successful calls only) to atrest ${id}`,
      eventPattern: {
        source: [spec.source],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: [spec.eventSource],
          // Creations, and the tamper events whose restore (enforce: "always") needs no other permission.
          eventName: [...trigger.eventNames],
          errorCode: events.Match.doesNotExist(),
          errorMessage: events.Match.doesNotExist(),
        },
      },
      targets: [target()],
    });
    // The backstop for events CloudTrail delivers "on a best effort basis" and for resources that
    // existed before the deployment. The handler runs a sweep when it receives SWEEP_EVENT.
    if (trigger.sweeps)
      new events.Rule(this, scoped('Sweep'), {
        description: `Periodic sweep: atrest ${id} remediates every non-compliant ${spec.resource}`,
        schedule: o.sweepSchedule ?? events.Schedule.rate(Duration.days(1)),
        targets: [target(events.RuleTargetInput.fromObject(SWEEP_EVENT))],
      });
    return fn;
  }

  /**
   * Validates the config (throws ConfigError naming the field) and, per deployed function, picks or
   * creates its key. A function is deployed when its section is configured, or when createKey makes
   * its key. Each function's environment gets only its own section (functionConfig): no Alibaba
   * ids, and the 4 KB budget is spent on what that function reads.
   */
  private keysAndConfigs(props: AtrestStackProps): Array<{
    manifest: FunctionManifest;
    key: kms.IKey;
    configJson: { text: string; sized: string; tokens: number };
  }> {
    const raw = asObject(props.config, 'config');
    const aws = asObject(raw.aws ?? {}, 'config.aws');
    const created = new Set(
      props.createKey ? AWS_MANIFESTS.filter((m) => m.aws?.createdKey !== undefined).map((m) => m.id) : [],
    );
    // The created keys' ARNs are tokens: the parser sees a placeholder ARN in their place.
    let withPlaceholders: Record<string, unknown> = raw;
    for (const m of AWS_MANIFESTS.filter((m) => created.has(m.id))) {
      asObject(aws[m.section] ?? {}, `config.aws.${m.section}`);
      withPlaceholders = setIn(withPlaceholders, ['aws', m.section, ...keyPathOf(m)], PLACEHOLDER_KEY_ARN);
    }
    const config = parseConfig(withPlaceholders) as Record<string, unknown> & {
      aws?: Record<string, unknown>;
    };
    const deployed = AWS_MANIFESTS.filter((m) => created.has(m.id) || config.aws?.[m.section] !== undefined);
    if (deployed.length === 0)
      throw new ConfigError(
        AWS_MANIFESTS.map(
          (m) =>
            `config.aws.${m.section}: required to deploy ${m.id}${m.aws?.createdKey ? ' (or pass createKey=true to create the key)' : ''}`,
        ),
      );
    return deployed.map((manifest) => {
      const own = functionConfig(manifest.id, config);
      if (!created.has(manifest.id)) {
        const text = JSON.stringify(own);
        return {
          manifest,
          key: kms.Key.fromKeyArn(
            this,
            idsOf(manifest)('Key'),
            this.regionKeyArn(manifest, config.aws?.[manifest.section]),
          ),
          configJson: { text, sized: text, tokens: 0 },
        };
      }
      const key = this.createFunctionKey(manifest);
      const path = ['aws', manifest.section, ...keyPathOf(manifest)];
      const withKey = setIn(own, path, key.keyArn);
      const sized = JSON.stringify(setIn(own, path, ''));
      return { manifest, key, configJson: { text: this.toJsonString(withKey), sized, tokens: 1 } };
    });
  }

  /**
   * The key for the function's own log group must live in the stack's region (a KMS key serves
   * only its own region). A stack synthesised for a region picks the section's key for that region
   * (its `keys`: `byRegion[region]`, else the default key when it is in that region). An
   * environment-agnostic stack maps every configured region to its key (`Fn::FindInMap` on
   * `AWS::Region`), and a rule refuses the deployment in a region without one, naming it, before
   * any resource is created.
   */
  private regionKeyArn(manifest: FunctionManifest, section: unknown): string {
    const where = `config.aws.${manifest.section}`;
    const keys = manifest.config.keys?.(section as never, []) ?? [];
    const [main] = keys;
    if (main === undefined)
      throw new ConfigError([
        `${where}: ${manifest.id} names no key (its section's keys); the AWS stack needs one`,
      ]);
    const byRegion = new Map<string, string>();
    for (const { key, region } of keys) byRegion.set(region ?? arnRegion(key), key);
    const scoped = idsOf(manifest);
    if (!Token.isUnresolved(this.region)) {
      const arn = byRegion.get(this.region);
      if (arn === undefined || arnRegion(arn) !== this.region)
        throw new ConfigError([
          `${where}.byRegion.${this.region}: no key for ${this.region}, where this stack deploys (${manifest.keyParameters?.[0]?.path.join('.') ?? main.field} is in ${arnRegion(main.key)}; a KMS key serves only its own region)`,
        ]);
      return arn;
    }
    const mapping = new CfnMapping(this, scoped('RegionKey'), {
      mapping: Object.fromEntries([...byRegion].map(([region, arn]) => [region, { arn }])),
    });
    new CfnRule(this, scoped('KeyForRegion'), {
      assertions: [
        {
          assert: Fn.conditionContains([...byRegion.keys()], Aws.REGION),
          assertDescription: `atrest: ${where} has no key for this region (configured: ${[...byRegion.keys()].join(', ')}); add byRegion.<region>`,
        },
      ],
    });
    return mapping.findInMap(Aws.REGION, 'arn');
  }

  /** A symmetric key with rotation and the key policy its function's service needs to use it. */
  private createFunctionKey(manifest: FunctionManifest): kms.Key {
    const spec = awsSpec(manifest).createdKey;
    if (spec === undefined) throw new ConfigError([`createKey: ${manifest.id} has no key to create`]);
    const key = new kms.Key(this, idsOf(manifest)('Key'), {
      description: spec.description,
      enableKeyRotation: true,
      alias: spec.alias,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: spec.sid,
        // The service's regional principal (`<service>.<region>.<urlSuffix>`), partition-aware.
        principals: [new iam.ServicePrincipal(`${spec.service}.${this.region}.${this.urlSuffix}`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            [spec.encryptionContext.key]: fillResource(spec.encryptionContext.arnLike, {
              partition: this.partition,
              account: this.account,
              region: this.region,
            }),
          },
        },
      }),
    );
    return key;
  }

  /** One IAM statement per permissions.ts statement: the exact actions, resources filled in. */
  private grantFromPermissions(fn: RemediationFunction, permissions: PermissionSet): void {
    const filled = { partition: this.partition, account: this.account, region: this.region };
    // How cdk-nag prints the same ARN: unresolved pseudo parameters as `<AWS::…>`.
    const shown = {
      partition: Token.isUnresolved(this.partition) ? '<AWS::Partition>' : this.partition,
      account: Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account,
      region: Token.isUnresolved(this.region) ? '<AWS::Region>' : this.region,
    };
    for (const statement of permissions.statements) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [...statement.actions],
          resources: statement.resources.map((r) => fillResource(r, filled)),
        }),
      );
      for (const resource of statement.resources.filter((r) => r.includes('*')))
        Validations.of(fn.role ?? fn).acknowledge({
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
   * One alarm per cause, and per function one composite alarm over its own and the shared DLQ
   * alarms that alone notifies: a failed remediation shows as an outcome, a function error and
   * later a DLQ message, and should page once.
   */
  private alarms(
    email: string,
    functions: readonly DeployedFunction[],
  ): { topic: sns.Topic; attention: cloudwatch.CompositeAlarm } {
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
    const period = Duration.minutes(5);
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    // The DLQs are shared: their alarms exist once and join every function's composite alarm.
    const everyId = functions.map((f) => f.manifest.id).join(', ');
    let dlqAlarms: cloudwatch.Alarm[] | undefined;
    const sharedAlarms = () => {
      dlqAlarms ??= [
        alarm(
          'EventDlqDepth',
          this.eventDlq.metricApproximateNumberOfMessagesVisible({ period }),
          `atrest ${everyId}: EventBridge could not deliver events to the function`,
        ),
        alarm(
          'AsyncDlqDepth',
          this.asyncDlq.metricApproximateNumberOfMessagesVisible({ period }),
          `atrest ${everyId}: the function failed an event after all retries`,
        ),
      ];
      return dlqAlarms;
    };
    const composites = functions.map(({ manifest, function: fn }) => {
      const { id, trigger } = manifest;
      const { resource } = awsSpec(manifest);
      const scoped = idsOf(manifest);
      const incompleteMetric = scoped(SWEEP_INCOMPLETE_METRIC);
      // `{"message":"sweep","complete":false,…}`: the handler's summary of a sweep that did not finish.
      if (trigger.sweeps)
        new logs.MetricFilter(this, scoped('SweepIncompleteFilter'), {
          logGroup: fn.logGroupOwn,
          filterPattern: logs.FilterPattern.literal('{ $.message = "sweep" && $.complete IS FALSE }'),
          metricNamespace: OUTCOME_NAMESPACE,
          metricName: incompleteMetric,
          metricValue: '1',
          defaultValue: 0,
        });
      const outcome = (outcome: 'failed' | 'deferred') =>
        new cloudwatch.Metric({
          namespace: OUTCOME_NAMESPACE,
          metricName: OUTCOME_METRIC,
          dimensionsMap: { function: id, outcome },
          statistic: cloudwatch.Stats.SUM,
          period,
        });
      const children = [
        alarm(scoped('FunctionErrors'), fn.metricErrors({ period }), `atrest ${id}: the function threw`),
        alarm(
          scoped('FunctionThrottles'),
          fn.metricThrottles({ period }),
          `atrest ${id}: invocations were throttled`,
        ),
        ...sharedAlarms(),
        alarm(
          scoped('OutcomeFailed'),
          outcome('failed'),
          `atrest ${id}: a ${resource} could not be encrypted (outcome failed)`,
        ),
        ...(trigger.sweeps
          ? [
              alarm(
                scoped('SweepIncomplete'),
                new cloudwatch.Metric({
                  namespace: OUTCOME_NAMESPACE,
                  metricName: incompleteMetric,
                  statistic: cloudwatch.Stats.SUM,
                  period,
                }),
                `atrest ${id}: the scheduled sweep stopped before it reached every ${resource}`,
              ),
            ]
          : []),
      ];
      // Deferred is not a failure (a retry is scheduled): visible in the console, never paging.
      alarm(
        scoped('OutcomeDeferred'),
        outcome('deferred'),
        `atrest ${id}: a ${resource} was not ready and is waiting for a retry (informational)`,
      );
      const attention = new cloudwatch.CompositeAlarm(this, scoped('Attention'), {
        alarmDescription: `atrest ${id}: something may be left unencrypted; the child alarm in ALARM says what`,
        alarmRule: cloudwatch.AlarmRule.anyOf(...children),
      });
      attention.addAlarmAction(new SnsAction(topic));
      return attention;
    });
    return { topic, attention: composites[0] as cloudwatch.CompositeAlarm };
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

/** Its construct id: its section, capitalised (`logGroupKms` → `LogGroupKms`). */
function constructIdOf(manifest: FunctionManifest): string {
  return manifest.section.charAt(0).toUpperCase() + manifest.section.slice(1);
}

/**
 * Logical ids of a function's own resources: the first AWS function's keep the stack's original
 * ids (`Sweep`, `Attention`, …), so its deployed stack does not replace them; every other
 * function's are prefixed with its construct id.
 */
function idsOf(manifest: FunctionManifest): (id: string) => string {
  return manifest.id === FUNCTION_ID ? (id) => id : (id) => `${constructIdOf(manifest)}${id}`;
}

function awsSpec(manifest: FunctionManifest): NonNullable<FunctionManifest['aws']> {
  if (manifest.aws === undefined)
    throw new ConfigError([
      `${manifest.id}: its manifest has no \`aws\` deployment facts (event source, resource)`,
    ]);
  return manifest.aws;
}

/** Where its section names its key: its first key parameter's path (`kmsKeyArn`). */
function keyPathOf(manifest: FunctionManifest): readonly string[] {
  const path = manifest.keyParameters?.[0]?.path;
  if (path === undefined)
    throw new ConfigError([
      `createKey: ${manifest.id} has no keyParameters, so its key cannot be put in its section`,
    ]);
  return path;
}

/** A copy of `object` with `value` at `path` (objects along it copied, their key order kept). */
function setIn(
  object: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return object;
  const inner = (object[head] ?? {}) as Record<string, unknown>;
  return { ...object, [head]: rest.length === 0 ? value : setIn(inner, rest, value) };
}

/** The value for one function of a per-function prop: one value serves only a one-function stack. */
function pick<T extends object>(
  value: PerFunction<T>,
  deployed: readonly { manifest: FunctionManifest }[],
  isOne: (v: PerFunction<T>) => v is T,
  name: string,
): (id: string) => T {
  if (isOne(value)) {
    if (deployed.length > 1)
      throw new ConfigError([
        `${name}: this stack deploys ${deployed.map((d) => d.manifest.id).join(', ')}; pass one per function id`,
      ]);
    return () => value;
  }
  const byId = value as Readonly<Record<string, T>>;
  return (id) => {
    const one = byId[id];
    if (one === undefined) throw new ConfigError([`${name}.${id}: missing; this stack deploys ${id}`]);
    return one;
  };
}
