/**
 * The four Alibaba Cloud functions as one ROS stack (ROS CDK, synthesised offline):
 *
 *   ActionTrail write event ─▶ EventBridge (default bus) ─▶ FC3 eventbridge trigger ─▶ function
 *   ActionTrail trail ─▶ SLS logstore ─▶ FC3 log trigger (trail.ts) ──────────────────┤   │
 *   timer: disk-default-kms every 6 h; the others' daily sweep ────────────────────────┘   │
 *     async invoke config: retries, max event age, on failure ─▶ MNS dead-letter queue    │
 *     idempotency ─▶ Tablestore table (`key` STRING, TTL)  ◀───────────────────────────────┤
 *     logs ─▶ SLS project/logstore (encrypted)  ◀──────────────────────────────────────────┘
 *
 * One RAM role per function (least privilege): the statements of its permissions.ts, exactly,
 * plus what the platform wiring needs: Tablestore row access (idempotency), mns:SendMessage on the
 * dead-letter queue (FC delivers async failures with the function's role) and
 * log:PostLogStoreLogs on the function logstore. A function that re-invokes itself (cluster-kms
 * defers a not-ready cluster) declares fc:InvokeFunction on its own name in its permissions.ts;
 * the stack checks that name is the one it deploys, and grants it to no other function.
 *
 * Each function's config `delivery` (default: its events.ts DEFAULT_DELIVERY) says which of the
 * EventBridge trigger and the trail trigger it gets.
 *
 * The config is validated at synth with the functions' own parser; it becomes the default of the
 * `ConfigJson` parameter. Key ids are parameters too (`ClusterKmsKeyId`, …): the config refers to
 * them as `{{ClusterKmsKeyId}}`, replaced at deploy time (`Fn::Replace`), so changing a key is a
 * parameter change, not a re-synth.
 */
import * as ros from '@alicloud/ros-cdk-core';
import * as fc3 from '@alicloud/ros-cdk-fc3';
import * as ots from '@alicloud/ros-cdk-ots';
import * as ram from '@alicloud/ros-cdk-ram';
import { type Config, parseConfig } from '#core/config';
import { ConfigError } from '#core/errors';
import { fillResource, type PermissionSet } from '#core/permissions';
import { DEFAULT_SWEEP_RATE, sweepRateFrom } from '#core/sweep';
import { TRAIL_EVENTS as CLUSTER_EVENTS } from '../../functions/alicloud/cluster-kms/events.ts';
import { TRAIL_EVENTS as DISK_EVENTS } from '../../functions/alicloud/disk-default-kms/events.ts';
import { trailEventNames } from '../../functions/alicloud/events.ts';
import { TRAIL_EVENTS as LOGSTORE_EVENTS } from '../../functions/alicloud/logstore-encryption/events.ts';
import { TRAIL_EVENTS as TABLE_EVENTS } from '../../functions/alicloud/table-bucket-encryption/events.ts';
import { type FunctionId, functionSpec } from '../functions.ts';
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

/**
 * ActionTrail delivery is best effort: once a day every resource of the region is swept, 03:00 UTC.
 * The sweep stops 20 s before the timeout, so 300 s covers ~1400 calls at the default 5/s; what
 * it does not reach is covered by the next run.
 */
const DAILY_SWEEP = { timer: '0 0 3 * * *', sweeps: true, timeoutSeconds: 300 } as const;

export const ALICLOUD_TRIGGERS: Record<AlicloudFunctionId, AlicloudTriggerSpec> = {
  // Whether SLS events carry an `sls:` type is unconfirmed: match any service's ActionTrail types.
  // Each function's events.ts names its creations and its tamper events (CONTRACT section 6);
  // restoring needs no permission beyond the function's own write and read.
  'alicloud.logstore-encryption': { eventNames: trailEventNames(LOGSTORE_EVENTS), ...DAILY_SWEEP },
  'alicloud.cluster-kms': {
    eventNames: trailEventNames(CLUSTER_EVENTS),
    type: ['cs:ActionTrail:ApiCall', 'cs:ActionTrail:ConsoleOperation', 'cs:ActionTrail:AliyunServiceEvent'],
    ...DAILY_SWEEP,
  },
  'alicloud.table-bucket-encryption': { eventNames: trailEventNames(TABLE_EVENTS), ...DAILY_SWEEP },
  // ecs: or ebs: type is unconfirmed; the timer is the backstop for a missed or late event.
  'alicloud.disk-default-kms': {
    eventNames: trailEventNames(DISK_EVENTS),
    timer: '0 0 */6 * * *',
    timeoutSeconds: 300,
  },
};

export const ALICLOUD_FUNCTION_IDS = Object.keys(ALICLOUD_TRIGGERS) as AlicloudFunctionId[];

/**
 * The payload every timer sends: the FC adapter sweeps the region when it sees it, unless the
 * remediator handles timer ticks itself (disk-default-kms).
 */
export const SWEEP_PAYLOAD = { atrest: { sweep: true } } as const;

/** Key ids that are stack parameters, and where each sits in the config. */
const KEY_PARAMETERS = [
  { name: 'LogstoreKmsKeyId', path: ['logstoreEncryption', 'userCmkInfo', 'keyId'] },
  { name: 'ClusterKmsKeyId', path: ['clusterKms', 'kmsKeyId'] },
  { name: 'DiskDefaultKmsKeyId', path: ['diskDefaultKms', 'kmsKeyId'] },
] as const;

/** Records live at most `idempotency.ttlSeconds` (max 7 days); the table TTL only clears leftovers. */
const OTS_TTL_SECONDS = 8 * 86_400;
const OTS_TABLE = 'atrest_idempotency';

const PREREQUISITES = [
  'ActionTrail: events reach EventBridge only for write events; the trail path (functions whose delivery includes "trail") reads a trail logstore, created by this stack unless TrailProject/TrailLogstore name an existing one.',
  'EventBridge, Function Compute 3.0, Tablestore, SLS and MNS must be activated in this region.',
  'alicloud.disk-default-kms: the first customer-managed key needs the service role AliyunECSDiskEncryptDefaultRole (authorize it once in the ECS console).',
  'alicloud.logstore-encryption with BYOK: userCmkInfo.roleArn must name a role SLS can assume to use the key.',
  'alicloud.cluster-kms: ACK Pro clusters only; ACK uses its own service role to reach KMS.',
  'Code: upload each function’s zip (infra/bundle.ts output folder, zipped) to CodeBucket/<Function>CodeObject before creating the stack.',
];

export interface AtrestAlicloudStackProps extends ros.StackProps {
  /** The config document (CONTRACT.md section 3), as parsed JSON; validated here. */
  config: unknown;
  /** permissions.ts of every deployed function. */
  permissions: ReadonlyMap<FunctionId, PermissionSet>;
  /** Which functions to deploy; default all four. */
  functions?: readonly AlicloudFunctionId[];
  /** Prefix of function, role, queue and table names; default `atrest`. */
  namePrefix?: string;
  /** API calls per second of the daily sweep (`ATREST_SWEEP_RATE`, at most 100); default 5. */
  sweepRate?: number;
  /** The trail path reads this existing trail's logstore; default: the stack creates a trail. */
  trail?: TrailSource;
}

export class AtrestAlicloudStack extends ros.Stack {
  readonly functions = new Map<AlicloudFunctionId, fc3.Function>();
  readonly functionRoles = new Map<AlicloudFunctionId, ram.Role>();

  constructor(scope: ros.Construct, id: string, props: AtrestAlicloudStackProps) {
    super(scope, id, {
      ...props,
      description:
        props.description ??
        'atrest: encrypts new Alibaba Cloud resources at rest with the configured key (SLS logstores, ACK secrets, OSS table buckets, ECS default disk key). Prerequisites: see Metadata "atrest".',
    });
    this.templateOptions.metadata = {
      ...this.templateOptions.metadata,
      atrest: { Prerequisites: PREREQUISITES },
    };
    const prefix = props.namePrefix ?? 'atrest';
    if (!/^[a-z][a-z0-9-]{0,14}$/.test(prefix))
      throw new ConfigError([`namePrefix: ${JSON.stringify(prefix)} must match ^[a-z][a-z0-9-]{0,14}$`]);
    const config = parseConfig(props.config);
    const ids = props.functions ?? ALICLOUD_FUNCTION_IDS;
    // Validated here with the functions' own parser, so a bad rate fails the synth, not every invocation.
    const sweepRate = String(
      sweepRateFrom({ ATREST_SWEEP_RATE: String(props.sweepRate ?? DEFAULT_SWEEP_RATE) }),
    );

    const configJson = this.configParameters(config);
    const codeBucket = new ros.RosParameter(this, 'CodeBucket', {
      type: ros.RosParameterType.STRING,
      description: 'OSS bucket (same region) holding the function code zips.',
    });
    const otsInstanceName = new ros.RosParameter(this, 'OtsInstanceName', {
      type: ros.RosParameterType.STRING,
      description:
        'Name of the Tablestore instance created for idempotency records (3-16 characters; unique in the region).',
      allowedPattern: '^[a-zA-Z][-a-zA-Z0-9]{1,14}[a-zA-Z0-9]$',
    });

    const instance = new ots.Instance(this, 'IdempotencyInstance', {
      instanceName: otsInstanceName.valueAsString,
      description: 'atrest idempotency records',
    });
    const table = new ots.Table(this, 'IdempotencyTable', {
      instanceName: instance.attrInstanceName,
      tableName: OTS_TABLE,
      primaryKey: [{ name: 'key', type: 'STRING' }],
      timeToLive: OTS_TTL_SECONDS,
      maxVersions: 1,
    });

    const dlqName = `${prefix}-dlq`;
    new ros.RosResource(this, 'DeadLetterQueue', {
      type: 'ALIYUN::MNS::Queue',
      properties: { QueueName: dlqName, MessageRetentionPeriod: 604_800, VisibilityTimeout: 60 },
    });
    const dlqArn = ros.Fn.sub(`acs:mns:\${ALIYUN::Region}:\${ALIYUN::AccountId}:/queues/${dlqName}/messages`);

    const logProject = new ros.RosResource(this, 'LogProject', {
      type: 'ALIYUN::SLS::Project',
      properties: {
        Name: ros.Fn.sub(`${prefix}-\${ALIYUN::AccountId}-\${ALIYUN::Region}`),
        Description: 'atrest function logs',
      },
    });
    const logstore = new ros.RosResource(this, 'FunctionLogstore', {
      type: 'ALIYUN::SLS::Logstore',
      properties: {
        ProjectName: logProject.getAtt('Name'),
        LogstoreName: 'functions',
        TTL: 90,
        // The logs of a tool that enforces encryption at rest are encrypted at rest.
        EncryptConf: { Enable: true, EncryptType: 'default' },
      },
    });

    // The trail path, when any function's delivery includes it (trail.ts).
    const trail = ids.some((id) => deliveryOf(id, config).includes('trail'))
      ? new TrailPath(this, 'TrailPath', {
          prefix,
          ...(props.trail ? { existing: props.trail } : {}),
          triggerLogs: { project: logProject.getAtt('Name'), logstore: logstore.getAtt('LogstoreName') },
        })
      : undefined;

    for (const fnId of ids) {
      const delivery = deliveryOf(fnId, config);
      const onTrail = trail !== undefined && delivery.includes('trail') ? trail : undefined;
      const permissions = props.permissions.get(fnId);
      if (permissions === undefined) throw new ConfigError([`permissions: none loaded for ${fnId}`]);
      const fnName = `${prefix}-${functionSpec(fnId).name}`;
      checkSelfInvoke(fnId, fnName, permissions);
      const logical = pascal(functionSpec(fnId).name);
      const trigger = ALICLOUD_TRIGGERS[fnId];

      const role = new ram.Role(this, `${logical}Role`, {
        roleName: ros.Fn.sub(`${fnName}-\${ALIYUN::Region}`),
        description: `atrest ${fnId}: function role`,
        assumeRolePolicyDocument: {
          version: '1',
          statement: [
            { action: 'sts:AssumeRole', effect: 'Allow', principal: { service: ['fc.aliyuncs.com'] } },
          ],
        },
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
                  resource: [
                    ros.Fn.sub(
                      `acs:ots:\${ALIYUN::Region}:\${ALIYUN::AccountId}:instance/\${OtsInstanceName}/table/${OTS_TABLE}`,
                    ),
                  ],
                },
                { effect: 'Allow', action: ['mns:SendMessage'], resource: [dlqArn] },
                {
                  effect: 'Allow',
                  action: ['log:PostLogStoreLogs'],
                  resource: [
                    ros.Fn.sub(
                      `acs:log:\${ALIYUN::Region}:\${ALIYUN::AccountId}:project/${prefix}-\${ALIYUN::AccountId}-\${ALIYUN::Region}/logstore/functions`,
                    ),
                  ],
                },
                ...(onTrail ? [onTrail.readStatement()] : []),
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
          ATREST_CONFIG_JSON: configJson,
          ATREST_OTS_ENDPOINT: ros.Fn.sub(`https://\${OtsInstanceName}.\${ALIYUN::Region}.ots.aliyuncs.com`),
          ATREST_OTS_INSTANCE: instance.attrInstanceName,
          ATREST_OTS_TABLE: table.attrTableName,
          ...(trigger.sweeps ? { ATREST_SWEEP_RATE: sweepRate } : {}),
        },
        logConfig: {
          project: logProject.getAtt('Name'),
          logstore: logstore.getAtt('LogstoreName'),
          logBeginRule: 'DefaultRegex',
          enableRequestMetrics: true,
          enableInstanceMetrics: true,
        },
      });
      this.functions.set(fnId, fn);

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
              errorsTolerance: 'ALL',
              retryStrategy: { PushRetryStrategy: 'EXPONENTIAL_DECAY_RETRY' },
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
    }
    new ros.RosOutput(this, 'DeadLetterQueueName', { value: dlqName });
    new ros.RosOutput(this, 'IdempotencyTableName', { value: table.attrTableName });
  }

  /**
   * `ConfigJson` (default: the validated config with each key id written as `{{Name}}`) and one
   * parameter per key id (default: the config's value); the environment gets the replaced text.
   */
  private configParameters(config: Config): string {
    const template = structuredClone(config) as Record<string, unknown>;
    const replacements: Record<string, string> = {};
    for (const { name, path } of KEY_PARAMETERS) {
      const holder = walk(template.alicloud, path.slice(0, -1));
      const last = path[path.length - 1] as string;
      const value = holder?.[last];
      if (holder === undefined || typeof value !== 'string') continue;
      const parameter = new ros.RosParameter(this, name, {
        type: ros.RosParameterType.STRING,
        defaultValue: value,
        description: `KMS key id for ${['alicloud', ...path].join('.')} (replaces {{${name}}} in ConfigJson).`,
      });
      holder[last] = `{{${name}}}`;
      replacements[`{{${name}}}`] = parameter.valueAsString;
    }
    const json = new ros.RosParameter(this, 'ConfigJson', {
      type: ros.RosParameterType.STRING,
      defaultValue: JSON.stringify(template),
      description: 'The atrest config (CONTRACT.md section 3), validated at synth; key ids as {{Name}}.',
    });
    return Object.keys(replacements).length === 0
      ? json.valueAsString
      : ros.Fn.replace(replacements, json.valueAsString);
  }
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
