// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ROS Fn::Sub strings (${ALIYUN::Region}) and SLS alert templates.
/**
 * The four Alibaba Cloud functions as one ROS stack (ROS CDK, synthesised offline). One stack per
 * account and region:
 *
 *   ActionTrail write event ─▶ EventBridge (default bus) ─▶ FC3 eventbridge trigger ─▶ function
 *   ActionTrail trail ─▶ SLS logstore ─▶ FC3 log trigger (trail.ts) ──────────────────┤   │
 *        (undeliverable after the trigger's retries ─▶ MNS dead-letter queue)              │
 *   timer: disk-default-kms every 6 h; the others' daily sweep ────────────────────────┘   │
 *     concurrency cap (20 by default) · async invoke config: retries, on failure ─▶ DLQ    │
 *     idempotency ─▶ Tablestore table `<prefix>_idempotency` in one instance (TTL)  ◀───────┤
 *     logs ─▶ SLS project/logstore, encrypted as the config asks  ◀────────────────────────┘
 *   alarms: SLS alert on `failed` outcomes, CloudMonitor rule on DLQ depth ─▶ e-mail contact
 *
 * One RAM role per function (least privilege), trusted by fc.aliyuncs.com for this function only
 * (`acs:SourceArn`): the statements of its permissions.ts (or `permissionsFor(section)`), plus what
 * the platform wiring needs: Tablestore row access (idempotency), mns:SendMessage on the
 * dead-letter queue and log:PostLogStoreLogs on the function logstore. A function that
 * re-invokes itself (cluster-kms) declares fc:InvokeFunction on its own name; the stack checks it.
 *
 * The config is fixed at synth: each function's environment gets its own section only
 * (functionConfig), checked against FC's 4 KB limit, and the RAM grants that depend on it
 * (`ram:PassRole` on the BYOK role, the disk regions) are computed from the same document. Only
 * key ids are parameters (`ClusterKmsKeyId`, …, written `{{Name}}` and replaced with
 * `Fn::Replace`), since changing a key changes no grant.
 *
 * Each function's config `delivery` (default: its events.ts DEFAULT_DELIVERY) says which of the
 * EventBridge trigger and the trail trigger it gets.
 *
 * Then the ROS checks (infra/alicloud/checks) run over the template (encryption, least privilege,
 * dead letters) and a violation fails the synth, as cdk-nag does on AWS.
 */
import * as ros from '@alicloud/ros-cdk-core';
import * as fc3 from '@alicloud/ros-cdk-fc3';
import * as ots from '@alicloud/ros-cdk-ots';
import * as ram from '@alicloud/ros-cdk-ram';
import { ConfigError } from '#core/errors';
import { fillResource, type PermissionSet } from '#core/permissions';
import { type Config, parseConfig } from '../../functions/config.ts';
import { manifestOf, manifestsOf } from '../../functions/manifests.ts';
import { checkEnvironmentSize, type SizedValue } from '../env-size.ts';
import {
  deployedSweepRate,
  type FunctionId,
  functionConfig,
  functionSpec,
  reservedConcurrencyOf,
} from '../functions.ts';
import { deliveryOf, TrailPath, type TrailSource } from './trail.ts';

export type AlicloudFunctionId = Extract<FunctionId, `alicloud.${string}`>;

/** What each function reacts to. `type`: the CloudEvent type pattern on the default event bus. */
export interface AlicloudTriggerSpec {
  /** ActionTrail `eventName`s (write events only reach EventBridge). */
  eventNames: readonly string[];
  /** EventBridge `type` pattern; default any service's ActionTrail API call. */
  type?: readonly unknown[];
  /** FC timer (cron, UTC, with seconds) for a periodic check; default none. */
  timer?: string;
  /**
   * The timer runs the FC adapter's scheduled sweep (functions/alicloud/fc.ts) of the function's
   * region, paced by `ATREST_SWEEP_RATE`; default false (disk-default-kms checks its configured
   * regions itself on every tick).
   */
  sweeps?: boolean;
  /** Function timeout in seconds; default 60. */
  timeoutSeconds?: number;
}

/** Every ActionTrail event type that can create or change a resource: API, console, service. */
const ANY_ACTIONTRAIL_EVENT = [
  { suffix: ':ActionTrail:ApiCall' },
  { suffix: ':ActionTrail:ConsoleOperation' },
  { suffix: ':ActionTrail:AliyunServiceEvent' },
];

/** Each Alibaba Cloud function's trigger, as its manifest declares it (functions/manifests.ts). */
export const ALICLOUD_TRIGGERS: Record<AlicloudFunctionId, AlicloudTriggerSpec> = Object.fromEntries(
  manifestsOf('alicloud').map(({ id, trigger }) => [
    id,
    {
      eventNames: trigger.eventNames,
      ...(trigger.eventTypes ? { type: trigger.eventTypes } : {}),
      ...(trigger.timer ? { timer: trigger.timer } : {}),
      ...(trigger.sweeps ? { sweeps: trigger.sweeps } : {}),
      ...(trigger.timeoutSeconds ? { timeoutSeconds: trigger.timeoutSeconds } : {}),
    },
  ]),
);

export const ALICLOUD_FUNCTION_IDS = Object.keys(ALICLOUD_TRIGGERS) as AlicloudFunctionId[];

/** The trigger of a deployed function; a synth error (not a crash) if its manifest has none. */
export function triggerOf(id: AlicloudFunctionId): AlicloudTriggerSpec {
  const trigger = ALICLOUD_TRIGGERS[id];
  if (trigger === undefined) throw new ConfigError([`${id}: not an Alibaba Cloud function with a trigger`]);
  return trigger;
}

/**
 * The payload every timer sends: the FC adapter sweeps the region when it sees it, unless the
 * remediator handles timer ticks itself (disk-default-kms).
 */
export const SWEEP_PAYLOAD = { atrest: { sweep: true } } as const;

/** Key ids that are stack parameters, and where each sits in the config: each manifest's `keyParameters`. */
const KEY_PARAMETERS = manifestsOf('alicloud').flatMap(({ section, keyParameters }) =>
  (keyParameters ?? []).map(({ name, path }) => ({ name, path: [section, ...path] })),
);

/** Records live at most `idempotency.ttlSeconds` (max 7 days); the table TTL only clears leftovers. */
const OTS_TTL_SECONDS = 8 * 86_400;

/**
 * Words Tablestore refuses in an instance name (instance naming rules: "cannot contain reserved
 * words such as ali, ay, ots, taobao and admin"); checked at synth instead of a failed create.
 */
export const OTS_RESERVED_WORDS = ['ali', 'ay', 'ots', 'taobao', 'admin'] as const;

const PREREQUISITES = [
  'ActionTrail: events reach EventBridge only for write events; the trail path (functions whose delivery includes "trail") reads a trail logstore, created by this stack unless TrailProject/TrailLogstore name an existing one.',
  'EventBridge, Function Compute 3.0, Tablestore, SLS and MNS must be activated in this region.',
  // Each function's own, from its manifest (in registry order).
  ...manifestsOf('alicloud').flatMap((m) => m.prerequisites ?? []),
  'Code: `npm run deploy:alicloud` zips each function, uploads it to CodeBucket/<Function>CodeObject and creates or updates the stack.',
];

export interface AtrestAlicloudStackProps extends ros.StackProps {
  /** The config document (README, Configuration), as parsed JSON; validated here. */
  config: unknown;
  /** permissions.ts of every deployed function. */
  permissions: ReadonlyMap<FunctionId, PermissionSet>;
  /** Which functions to deploy; default all four. */
  functions?: readonly AlicloudFunctionId[];
  /** Prefix of function, role, queue and table names; default `atrest`. */
  namePrefix?: string;
  /** API calls per second of the daily sweep (`ATREST_SWEEP_RATE`, at most 100); default 5. */
  sweepRate?: number;
  /** The e-mail address of the CloudMonitor contact the alarms notify; required. */
  alarmEmail: string;
  /** Instances per function (FC3 ConcurrencyConfig); default 20, `null` for the account's default. */
  reservedConcurrency?: number | null;
  /**
   * The Tablestore instance every atrest table lives in (one instance for all tables: the region
   * quota is 10). Default `<prefix>-store`. With `createOtsInstance: false` it must exist already.
   */
  otsInstanceName?: string;
  /** Create the Tablestore instance; default true. */
  createOtsInstance?: boolean;
  /**
   * Restrict the roles' trust to this stack's functions (`acs:SourceArn` condition); default true.
   * Off only if Function Compute turns out not to send a source ARN (see README, verified where).
   */
  trustSourceCondition?: boolean;
  /** The trail path reads this existing trail's logstore; default: the stack creates a trail. */
  trail?: TrailSource;
}

export class AtrestAlicloudStack extends ros.Stack {
  readonly functions = new Map<AlicloudFunctionId, fc3.Function>();
  readonly functionRoles = new Map<AlicloudFunctionId, ram.Role>();

  readonly deadLetterQueue: ros.RosResource;
  readonly logstore: ros.RosResource;
  readonly otsTableName: string;
  readonly otsInstanceName: string;

  constructor(scope: ros.Construct, id: string, props: AtrestAlicloudStackProps) {
    super(scope, id, {
      ...props,
      description:
        props.description ??
        'atrest: encrypts new Alibaba Cloud resources at rest with the configured key (SLS logstores, ACK secrets, OSS table buckets, ECS default disk key). One stack per account and region. Prerequisites: see Metadata "atrest".',
    });
    this.templateOptions.metadata = {
      ...this.templateOptions.metadata,
      atrest: {
        Prerequisites: PREREQUISITES,
        // The one ROS check the platform cannot satisfy yet (infra/alicloud/checks).
        Acknowledged: [
          {
            rule: 'ATREST-ROS-OTS1',
            resource: 'IdempotencyTable',
            reason:
              'ALIYUN::OTS::Table (ros-cdk-ots 1.11.0) and the tablestore SDK 5.6.5 expose no SSESpecification, so neither ROS nor the deploy script can create the table encrypted; it holds only resource ids, outcome states and timestamps.',
          },
          {
            rule: 'ATREST-ROS-RAM2',
            resource: 'TrailInvocationRole',
            reason:
              "SLS (log.aliyuncs.com) assumes it for the trail logstore trigger; the source ARN SLS presents is unconfirmed and a wrong condition would stop the trail path without a trace; the role may only fc:InvokeFunction atrest's own functions.",
          },
        ],
      },
    };
    const prefix = props.namePrefix ?? 'atrest';
    if (!/^[a-z][a-z0-9-]{0,14}$/.test(prefix))
      throw new ConfigError([`namePrefix: ${JSON.stringify(prefix)} must match ^[a-z][a-z0-9-]{0,14}$`]);
    const config = parseConfig(props.config);
    const ids = props.functions ?? ALICLOUD_FUNCTION_IDS;
    const sweepRate = deployedSweepRate(props.sweepRate);
    const reserved = reservedConcurrencyOf(props.reservedConcurrency);
    const alarmEmail = checkedEmail(props.alarmEmail);
    this.otsInstanceName = checkedOtsInstanceName(
      // At most 16 characters: a long prefix is cut, never a trailing hyphen.
      props.otsInstanceName ?? `${prefix.slice(0, 10).replace(/-+$/, '')}-store`,
    );
    // Tablestore table names: letters, digits, underscores.
    this.otsTableName = `${prefix.replaceAll('-', '_')}_idempotency`;

    const keyParameters = this.keyParameters(config);
    const codeBucket = new ros.RosParameter(this, 'CodeBucket', {
      type: ros.RosParameterType.STRING,
      description:
        'OSS bucket (same region) holding the function code zips (npm run deploy:alicloud uploads them).',
    });

    // InstanceV2, not Instance: Instance's `Network` still defaults to the deprecated NORMAL
    // (classic) type; V2 takes the network types as an ACL. FC reaches it over the internet endpoint.
    const instance =
      props.createOtsInstance === false
        ? undefined
        : new ots.InstanceV2(this, 'OtsInstance', {
            instanceName: this.otsInstanceName,
            clusterType: 'HYBRID',
            instanceDescription: 'atrest tables (idempotency records)',
            networkTypeAcl: ['VPC', 'INTERNET'],
          });
    const instanceName = instance?.attrInstanceName ?? this.otsInstanceName;
    const table = new ots.Table(this, 'IdempotencyTable', {
      instanceName,
      tableName: this.otsTableName,
      primaryKey: [{ name: 'key', type: 'STRING' }],
      timeToLive: OTS_TTL_SECONDS,
      maxVersions: 1,
    });

    const dlqName = `${prefix}-dlq`;
    this.deadLetterQueue = new ros.RosResource(this, 'DeadLetterQueue', {
      type: 'ALIYUN::MNS::Queue',
      properties: { QueueName: dlqName, MessageRetentionPeriod: 604_800, VisibilityTimeout: 60 },
    });
    // Built on the queue's own attribute, so ROS creates the queue before anything that names it.
    const dlqArn = ros.Fn.join('', [
      ros.Fn.sub('acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/queues/'),
      this.deadLetterQueue.getAtt('QueueName'),
      '/messages',
    ]);

    const logProject = new ros.RosResource(this, 'LogProject', {
      type: 'ALIYUN::SLS::Project',
      properties: {
        Name: ros.Fn.sub(`${prefix}-\${ALIYUN::AccountId}-\${ALIYUN::Region}`),
        Description: 'atrest function logs',
      },
    });
    this.logstore = new ros.RosResource(this, 'FunctionLogstore', {
      type: 'ALIYUN::SLS::Logstore',
      properties: {
        ProjectName: logProject.getAtt('Name'),
        LogstoreName: 'functions',
        TTL: 90,
        // Encrypted exactly as logstore-encryption would leave it, so the daily sweep finds its
        // own logstore compliant instead of reporting it failed every day.
        EncryptConf: logstoreEncryptConf(config, keyParameters),
      },
    });
    const logstoreArn = ros.Fn.sub(
      `acs:log:\${ALIYUN::Region}:\${ALIYUN::AccountId}:project/${prefix}-\${ALIYUN::AccountId}-\${ALIYUN::Region}/logstore/functions`,
    );
    const tableArn = ros.Fn.join('', [
      ros.Fn.sub('acs:ots:${ALIYUN::Region}:${ALIYUN::AccountId}:instance/'),
      instanceName,
      `/table/${this.otsTableName}`,
    ]);

    // The trail path, when any function's delivery includes it (trail.ts).
    const trail = ids.some((id) => deliveryOf(id, config).includes('trail'))
      ? new TrailPath(this, 'TrailPath', {
          prefix,
          ...(props.trail ? { existing: props.trail } : {}),
          triggerLogs: { project: logProject.getAtt('Name'), logstore: this.logstore.getAtt('LogstoreName') },
        })
      : undefined;

    const memberRoleName = config.alicloud?.organization?.memberRoleName;
    for (const fnId of ids) {
      const delivery = deliveryOf(fnId, config);
      const onTrail = trail !== undefined && delivery.includes('trail') ? trail : undefined;
      const permissions = props.permissions.get(fnId);
      if (permissions === undefined) throw new ConfigError([`permissions: none loaded for ${fnId}`]);
      const fnName = `${prefix}-${functionSpec(fnId).name}`;
      checkSelfInvoke(fnId, fnName, permissions);
      const logical = pascal(functionSpec(fnId).name);
      const trigger = triggerOf(fnId);

      const trust: Record<string, unknown> = {
        action: 'sts:AssumeRole',
        effect: 'Allow',
        principal: { service: ['fc.aliyuncs.com'] },
      };
      if (props.trustSourceCondition !== false)
        trust.condition = {
          stringLike: {
            'acs:SourceArn': ros.Fn.sub(
              `acs:fc:\${ALIYUN::Region}:\${ALIYUN::AccountId}:functions/${fnName}`,
            ),
          },
        };
      const role = new ram.Role(this, `${logical}Role`, {
        roleName: ros.Fn.sub(`${fnName}-\${ALIYUN::Region}`),
        description: `atrest ${fnId}: function role`,
        assumeRolePolicyDocument: { version: '1', statement: [trust] },
        policies: [
          {
            policyName: `${fnName}-policy`,
            policyDocument: {
              version: '1',
              statement: [
                ...permissions.statements.map((s) => ({
                  effect: 'Allow',
                  action: [...s.actions],
                  resource: s.resources.map(alicloudResource),
                })),
                {
                  effect: 'Allow',
                  action: ['ots:GetRow', 'ots:PutRow', 'ots:UpdateRow', 'ots:DeleteRow'],
                  resource: [tableArn],
                },
                { effect: 'Allow', action: ['mns:SendMessage'], resource: [dlqArn] },
                { effect: 'Allow', action: ['log:PostLogStoreLogs'], resource: [logstoreArn] },
                ...(onTrail ? [onTrail.readStatement()] : []),
                // Organization mode: the function acts in a member account only through that account's
                // member role, which trusts this role; RAM also needs the caller allowed to assume it.
                ...(memberRoleName !== undefined
                  ? [
                      {
                        effect: 'Allow',
                        action: ['sts:AssumeRole'],
                        resource: [`acs:ram:*:*:role/${memberRoleName}`],
                      },
                    ]
                  : []),
              ],
            },
          },
        ],
      });
      this.functionRoles.set(fnId, role);

      const codeObject = new ros.RosParameter(this, `${logical}CodeObject`, {
        type: ros.RosParameterType.STRING,
        defaultValue: `atrest/${fnId}.zip`,
        description: `OSS object (in CodeBucket) with the ${fnId} zip: index.js, package.json, node_modules/ from infra/bundle.ts.`,
      });
      const own = this.functionConfigJson(fnId, config, keyParameters);
      const otsEndpoint = ros.Fn.join('', [
        'https://',
        instanceName,
        ros.Fn.sub('.${ALIYUN::Region}.ots.aliyuncs.com'),
      ]);
      const sized: Record<string, SizedValue> = {
        ATREST_CONFIG_JSON: own.sized,
        ATREST_OTS_ENDPOINT: { text: `https://${this.otsInstanceName}.cn-hangzhou.ots.aliyuncs.com` },
        ATREST_OTS_INSTANCE: { text: this.otsInstanceName },
        ATREST_OTS_TABLE: { text: this.otsTableName },
        ...(trigger.sweeps ? { ATREST_SWEEP_RATE: { text: sweepRate } } : {}),
      };
      checkEnvironmentSize(fnId, 'Function Compute', sized);
      const fn = new fc3.Function(this, logical, {
        functionName: fnName,
        description: `atrest ${fnId}: encrypts new resources at rest with the configured key`,
        runtime: 'nodejs20',
        handler: 'index.handler',
        code: { ossBucketName: codeBucket.valueAsString, ossObjectName: codeObject.valueAsString },
        role: role.attrArn,
        timeout: trigger.timeoutSeconds ?? 60,
        memorySize: 256,
        environmentVariables: {
          ATREST_CONFIG_JSON: own.value,
          ATREST_OTS_ENDPOINT: otsEndpoint,
          ATREST_OTS_INSTANCE: instanceName,
          ATREST_OTS_TABLE: table.attrTableName,
          ...(trigger.sweeps ? { ATREST_SWEEP_RATE: sweepRate } : {}),
        },
        logConfig: {
          project: logProject.getAtt('Name'),
          logstore: this.logstore.getAtt('LogstoreName'),
          logBeginRule: 'DefaultRegex',
          enableRequestMetrics: true,
          enableInstanceMetrics: true,
        },
      });
      this.functions.set(fnId, fn);

      if (reserved !== null)
        new fc3.ConcurrencyConfig(this, `${logical}Concurrency`, {
          functionName: fn.attrFunctionName,
          reservedConcurrency: reserved,
        });

      new fc3.AsyncInvokeConfig(this, `${logical}AsyncInvokeConfig`, {
        functionName: fn.attrFunctionName,
        maxAsyncRetryAttempts: 3,
        maxAsyncEventAgeInSeconds: 21_600,
        destinationConfig: { onFailure: { destination: dlqArn } },
      });

      if (delivery.includes('eventbridge'))
        new fc3.Trigger(this, `${logical}EventTrigger`, {
          functionName: fn.attrFunctionName,
          triggerName: 'actiontrail',
          triggerType: 'eventbridge',
          triggerConfig: {
            triggerEnable: true,
            // Asynchronous, so the async invoke config (retries, dead-letter queue) applies.
            asyncInvocationType: true,
            eventRuleFilterPattern: JSON.stringify(eventPattern(trigger)),
            eventSourceConfig: { eventSourceType: 'Default' },
            eventSinkConfig: { deliveryOption: { mode: 'event-driven', eventSchema: 'CloudEvents' } },
            runOptions: {
              mode: 'event-driven',
              // ALL: one event that cannot be delivered does not block the others; it goes to the
              // dead-letter queue after the retries instead of being dropped.
              errorsTolerance: 'ALL',
              retryStrategy: { PushRetryStrategy: 'EXPONENTIAL_DECAY_RETRY' },
              deadLetterQueue: { Arn: dlqArn },
            },
          },
        });

      onTrail?.addTrigger(logical, fn, fnName);

      if (trigger.timer !== undefined)
        new fc3.Trigger(this, `${logical}TimerTrigger`, {
          functionName: fn.attrFunctionName,
          triggerName: trigger.sweeps ? 'sweep' : 'periodic-check',
          triggerType: 'timer',
          triggerConfig: {
            cronExpression: trigger.timer,
            enable: true,
            payload: JSON.stringify(SWEEP_PAYLOAD),
          },
        });

      new ros.RosOutput(this, `${logical}FunctionName`, { value: fn.attrFunctionName });
      // A function whose role id the operator needs (cluster-kms: doctor --ack-role-id) names its output.
      const { roleIdOutput } = manifestOf(fnId);
      if (roleIdOutput !== undefined) new ros.RosOutput(this, roleIdOutput, { value: role.attrRoleId });
    }
    this.alarms(prefix, alarmEmail, logProject, dlqName);
    new ros.RosOutput(this, 'DeadLetterQueueName', { value: this.deadLetterQueue.getAtt('QueueName') });
    new ros.RosOutput(this, 'IdempotencyTableName', { value: table.attrTableName });
    new ros.RosOutput(this, 'OtsInstanceName', { value: instanceName });
  }

  /**
   * Alarms that reach someone: a CloudMonitor contact (the alarm e-mail) in a contact group; an SLS
   * alert on `failed` outcome lines in the function logstore; a CloudMonitor rule on the
   * dead-letter queue's depth.
   */
  private alarms(prefix: string, email: string, logProject: ros.RosResource, dlqName: string): void {
    const contactName = `${prefix}-oncall`;
    const contact = new ros.RosResource(this, 'AlarmContact', {
      type: 'ALIYUN::CMS::Contact',
      properties: { ContactName: contactName, Describe: 'atrest alarms', Channels: { Mail: email } },
    });
    const group = new ros.RosResource(this, 'AlarmContactGroup', {
      type: 'ALIYUN::CMS::ContactGroup',
      properties: {
        ContactGroupName: `${prefix}-alarms`,
        Describe: 'atrest alarms',
        ContactNames: [contact.getAtt('ContactName')],
      },
    });
    new ros.RosResource(this, 'FailedOutcomeAlert', {
      type: 'ALIYUN::SLS::Alert',
      properties: {
        Project: logProject.getAtt('Name'),
        Detail: {
          Name: `${prefix}-failed-outcomes`,
          DisplayName: 'atrest: a resource could not be encrypted (outcome failed)',
          Schedule: { Type: 'FixedRate', Interval: '5m' },
          Configuration: {
            Version: '1.0',
            Type: 'default',
            Dashboard: 'internal-alert-analysis',
            QueryList: [
              {
                LogStore: 'functions',
                Query: 'outcome: failed | select count(1) as failed',
                Start: '-5m',
                End: 'now',
                TimeSpanType: 'Custom',
              },
            ],
            Condition: 'failed > 0',
            NotificationList: [
              {
                Type: 'Email',
                EmailList: [email],
                Content:
                  'atrest: ${failed} failed outcome(s) in the last 5 minutes; see the functions logstore',
              },
            ],
          },
        },
      },
    });
    new ros.RosResource(this, 'DeadLetterDepthAlarm', {
      type: 'ALIYUN::CMS::ResourceMetricRule',
      properties: {
        RuleName: `${prefix}-dead-letters`,
        Namespace: 'acs_mns_new',
        MetricName: 'ActiveMessages',
        Resources: [
          {
            resource: ros.Fn.sub(
              `[{"userId":"\${ALIYUN::AccountId}","region":"\${ALIYUN::Region}","queue":"${dlqName}"}]`,
            ),
          },
        ],
        ContactGroups: [group.getAtt('ContactGroupName')],
        Escalations: {
          Critical: {
            Statistics: 'Maximum',
            ComparisonOperator: 'GreaterThanThreshold',
            Threshold: '0',
            Times: 1,
          },
        },
        Period: 300,
      },
    });
  }

  /**
   * One parameter per key id (default: the config's value). A key id becomes `{{Name}}` in each
   * function's config text and is replaced at deploy time.
   */
  private keyParameters(config: Config): Map<string, { placeholder: string; value: string; token: string }> {
    const out = new Map<string, { placeholder: string; value: string; token: string }>();
    for (const { name, path } of KEY_PARAMETERS) {
      const holder = walk(config.alicloud, path.slice(0, -1));
      const value = holder?.[path[path.length - 1] as string];
      if (typeof value !== 'string') continue;
      const parameter = new ros.RosParameter(this, name, {
        type: ros.RosParameterType.STRING,
        defaultValue: value,
        description: `KMS key id for ${['alicloud', ...path].join('.')}.`,
      });
      out.set(path.join('.'), { placeholder: `{{${name}}}`, value, token: parameter.valueAsString });
    }
    return out;
  }

  /** The function's own section as JSON, key ids replaced by their parameters at deploy time. */
  private functionConfigJson(
    fnId: AlicloudFunctionId,
    config: Config,
    keys: Map<string, { placeholder: string; value: string; token: string }>,
  ): { value: string; sized: SizedValue } {
    const own = structuredClone(functionConfig(fnId, config as Record<string, unknown>));
    const replacements: Record<string, string> = {};
    for (const { path } of KEY_PARAMETERS) {
      const key = keys.get(path.join('.'));
      const holder = walk(own.alicloud, path.slice(0, -1));
      const last = path[path.length - 1] as string;
      if (key === undefined || holder === undefined || typeof holder[last] !== 'string') continue;
      holder[last] = key.placeholder;
      replacements[key.placeholder] = key.token;
    }
    const text = JSON.stringify(own);
    const count = Object.keys(replacements).length;
    return {
      value: count === 0 ? text : ros.Fn.replace(replacements, text),
      // A key id is up to ~40 characters; count each placeholder as a token-sized value.
      sized: { text, tokens: count },
    };
  }
}

/** The logstore EncryptConf the config asks for (BYOK with its key, role and region, else the SLS key). */
function logstoreEncryptConf(
  config: Config,
  keys: Map<string, { placeholder: string; value: string; token: string }>,
): Record<string, unknown> {
  const section = config.alicloud?.logstoreEncryption;
  const cmk = section?.userCmkInfo;
  if (section === undefined || cmk === undefined)
    return { Enable: true, EncryptType: section?.encryptType ?? 'default' };
  return {
    Enable: true,
    EncryptType: section.encryptType,
    UserCmkInfo: {
      CmkKeyId: keys.get('logstoreEncryption.userCmkInfo.keyId')?.token ?? cmk.keyId,
      Arn: cmk.roleArn,
      RegionId: cmk.regionId,
    },
  };
}

function checkedEmail(email: string): string {
  if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email))
    throw new ConfigError([
      `alarmEmail: required, an e-mail address that receives atrest's alarms (got ${JSON.stringify(email)})`,
    ]);
  return email;
}

/** Tablestore instance naming rules, checked at synth (3-16 characters, letter first, no reserved word). */
export function checkedOtsInstanceName(name: string): string {
  if (!/^[a-zA-Z][-a-zA-Z0-9]{1,14}[a-zA-Z0-9]$/.test(name))
    throw new ConfigError([
      `otsInstanceName: ${JSON.stringify(name)} must be 3-16 letters, digits or hyphens, start with a letter and not end with a hyphen`,
    ]);
  const word = OTS_RESERVED_WORDS.find((w) => name.toLowerCase().includes(w));
  if (word !== undefined)
    throw new ConfigError([
      `otsInstanceName: ${JSON.stringify(name)} contains the reserved word "${word}" (Tablestore refuses ${OTS_RESERVED_WORDS.join(', ')}); pick another namePrefix or otsInstanceName`,
    ]);
  return name;
}

/** `{"type":[…],"data":{"eventName":[…],"errorCode":[{"exists":false}]}}`: successful calls only. */
export function eventPattern(trigger: AlicloudTriggerSpec): Record<string, unknown> {
  return {
    type: [...(trigger.type ?? ANY_ACTIONTRAIL_EVENT)],
    data: { eventName: [...trigger.eventNames], errorCode: [{ exists: false }] },
  };
}

/** A self-invoke grant must name the function as deployed, else deferral is denied at run time. */
function checkSelfInvoke(fnId: FunctionId, fnName: string, permissions: PermissionSet): void {
  const own = new RegExp(`:functions/${fnName}(/\\*)?$`);
  const wrong = permissions.statements
    .filter((s) => s.actions.includes('fc:InvokeFunction'))
    .flatMap((s) => s.resources)
    .filter((r) => !own.test(r));
  if (wrong.length > 0)
    throw new ConfigError([
      `${fnId}: permissions grant fc:InvokeFunction on ${wrong.join(', ')}, but the function is deployed as ${fnName}`,
    ]);
}

/** A permissions.ts resource pattern as a RAM resource: region and account from the stack. */
function alicloudResource(pattern: string): string {
  const filled = fillResource(pattern, {
    partition: 'acs',
    account: `\${ALIYUN::AccountId}`,
    region: `\${ALIYUN::Region}`,
  });
  return filled.includes('${') ? ros.Fn.sub(filled) : filled;
}

function walk(value: unknown, path: readonly string[]): Record<string, unknown> | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'object' && current !== null ? (current as Record<string, unknown>) : undefined;
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
