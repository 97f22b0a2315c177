// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ROS Fn::Sub strings.
/**
 * The trail path in ROS: an ActionTrail trail delivering to an SLS logstore, and per function
 * whose `delivery` includes `trail` an FC SLS (log) trigger on that logstore (see
 * functions/alicloud/trail.ts for what the function does with it).
 *
 *   ActionTrail trail ─▶ SLS project/actiontrail_<trail> ─▶ FC log trigger (every 60 s per shard) ─▶ function
 *
 * Either the stack creates the trail (an SLS project, `ALIYUN::ACTIONTRAIL::Trail` with write
 * events, `ALIYUN::ACTIONTRAIL::TrailLogging` to start it — a trail made through the API is off
 * until StartLogging; ActionTrail creates the logstore itself and names it `actiontrail_<trail
 * name>`: CreateTrail API reference), or it takes an existing trail's project and logstore (the
 * `TrailProject` / `TrailLogstore` parameters, e.g. an organization's multi-account trail).
 *
 * The trigger's shape is the FC 3.0 API's (`@alicloud/fc20230330` 4.7.6 `CreateTriggerInput`:
 * `triggerType: "log"`, `sourceArn` the project's ARN, `invocationRole`; `SLSTriggerConfig`:
 * `enable`, `sourceConfig.logstore`, `jobConfig.{triggerInterval, maxRetryTime}`,
 * `logConfig.{project, logstore}`, `functionParameter`).
 *
 * Permissions: SLS invokes the functions with a role it assumes (trusted service
 * `log.aliyuncs.com`, `fc:InvokeFunction` on those functions only); each function reads the
 * logstore with its own role, which gets `log:GetCursorOrData` on that one logstore
 * (functions/alicloud/trail-permissions.ts).
 */
import * as ros from '@alicloud/ros-cdk-core';
import * as fc3 from '@alicloud/ros-cdk-fc3';
import * as ram from '@alicloud/ros-cdk-ram';
import { ConfigError } from '#core/errors';
import { fillResource, type PermissionSet } from '#core/permissions';
import type { DeliveryPath } from '../../functions/alicloud/events.ts';
import { trailPermissions } from '../../functions/alicloud/trail-permissions.ts';
import { manifestsOf } from '../../functions/manifests.ts';
import { configSection, type FunctionId } from '../functions.ts';
import { checkPermissions } from '../permissions.ts';

/** Each function's default delivery paths (its manifest, from its events.ts), when the config names none. */
export const DEFAULT_DELIVERY: Record<string, readonly DeliveryPath[]> = Object.fromEntries(
  manifestsOf('alicloud').map((m) => [m.id, m.delivery ?? ['eventbridge']]),
);

/** The delivery paths deployed for a function: its config's `delivery`, else its default. */
export function deliveryOf(id: FunctionId, config: unknown): readonly DeliveryPath[] {
  const section = configSection(id, config) as { delivery?: readonly DeliveryPath[] } | undefined;
  return section?.delivery ?? DEFAULT_DELIVERY[id] ?? ['eventbridge'];
}

/** An existing trail's logstore (an organization's trail, or one you already run). */
export interface TrailSource {
  project: string;
  logstore: string;
}

export interface TrailPathProps {
  /** Name prefix (the stack's). */
  prefix: string;
  /** Read this trail's logstore instead of creating a trail. */
  existing?: TrailSource;
  /** Where the triggers write their own execution logs. */
  triggerLogs: { project: unknown; logstore: unknown };
  /** Seconds between reads of each shard (FC: 3..600). Default 60. */
  intervalSeconds?: number;
}

const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const LOGSTORE_NAME = /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/;

export class TrailPath extends ros.Construct {
  /** The trail's SLS project and logstore (parameters or created names). */
  readonly project: string;
  readonly logstore: string;
  private invocationRole?: ram.Role;
  private readonly functionNames: string[] = [];
  private readonly props: TrailPathProps;

  constructor(scope: ros.Construct, id: string, props: TrailPathProps) {
    super(scope, id);
    this.props = props;
    const interval = props.intervalSeconds ?? 60;
    if (!Number.isInteger(interval) || interval < 3 || interval > 600)
      throw new ConfigError([`trail.intervalSeconds: ${interval} must be an integer in 3..600`]);
    if (props.existing) {
      if (!PROJECT_NAME.test(props.existing.project) || !LOGSTORE_NAME.test(props.existing.logstore))
        throw new ConfigError([
          `trail: ${JSON.stringify(`${props.existing.project}/${props.existing.logstore}`)} is not an SLS project/logstore name`,
        ]);
      this.project = new ros.RosParameter(scope, 'TrailProject', {
        type: ros.RosParameterType.STRING,
        defaultValue: props.existing.project,
        description:
          "SLS project of the existing ActionTrail trail's logstore (same region as the functions).",
      }).valueAsString;
      this.logstore = new ros.RosParameter(scope, 'TrailLogstore', {
        type: ros.RosParameterType.STRING,
        defaultValue: props.existing.logstore,
        description: "The existing trail's logstore (ActionTrail names it actiontrail_<trail name>).",
      }).valueAsString;
      return;
    }
    const trailName = `${props.prefix}-trail`;
    const project = new ros.RosResource(this, 'TrailLogProject', {
      type: 'ALIYUN::SLS::Project',
      properties: {
        Name: ros.Fn.sub(`${props.prefix}-trail-\${ALIYUN::AccountId}-\${ALIYUN::Region}`),
        Description: 'atrest: ActionTrail records for the trail path',
      },
    });
    const trail = new ros.RosResource(this, 'ActionTrail', {
      type: 'ALIYUN::ACTIONTRAIL::Trail',
      properties: {
        Name: trailName,
        EventRW: 'Write',
        SlsProjectArn: ros.Fn.sub(
          `acs:log:\${ALIYUN::Region}:\${ALIYUN::AccountId}:project/${props.prefix}-trail-\${ALIYUN::AccountId}-\${ALIYUN::Region}`,
        ),
        SlsWriteRoleArn: ros.Fn.sub('acs:ram::${ALIYUN::AccountId}:role/aliyunserviceroleforactiontrail'),
      },
    });
    // ROS CDK renders DependsOn from logical ids (addDependsOn alone leaves the template without it).
    trail.addRosDependency(project.logicalId);
    const logging = new ros.RosResource(this, 'ActionTrailLogging', {
      type: 'ALIYUN::ACTIONTRAIL::TrailLogging',
      properties: { Name: trailName, Enable: true },
    });
    logging.addRosDependency(trail.logicalId);
    this.logging = logging;
    this.project = project.getAtt('Name') as unknown as string;
    this.logstore = `actiontrail_${trailName}`;
  }

  private logging?: ros.RosResource;

  /** The function's statement to read the logstore, as a RAM policy statement. */
  readStatement(): { effect: string; action: string[]; resource: unknown[] } {
    const set: PermissionSet = checkPermissions('alicloud.logstore-encryption', trailPermissions);
    const statement = set.statements[0];
    if (statement === undefined) throw new ConfigError(['trail-permissions: no statement']);
    return {
      effect: 'Allow',
      action: [...statement.actions],
      resource: statement.resources.map((pattern) => {
        const filled = fillResource(pattern, {
          partition: 'acs',
          account: '${ALIYUN::AccountId}',
          region: '${ALIYUN::Region}',
        });
        return ros.Fn.sub(
          filled.replace('{trailProject}', '${Project}').replace('{trailLogstore}', '${Logstore}'),
          {
            Project: this.project,
            Logstore: this.logstore,
          },
        );
      }),
    };
  }

  /** An FC SLS trigger on the trail logstore for `fn` (deployed as `functionName`). */
  addTrigger(logical: string, fn: fc3.Function, functionName: string): fc3.Trigger {
    this.functionNames.push(functionName);
    const role = this.role();
    const trigger = new fc3.Trigger(this, `${logical}TrailTrigger`, {
      functionName: fn.attrFunctionName,
      triggerName: 'trail',
      triggerType: 'log',
      description: 'atrest trail path: the ActionTrail records of the trail logstore',
      sourceArn: ros.Fn.sub('acs:log:${ALIYUN::Region}:${ALIYUN::AccountId}:project/${Project}', {
        Project: this.project,
      }),
      invocationRole: role.attrArn,
      triggerConfig: {
        enable: true,
        sourceConfig: { logstore: this.logstore },
        jobConfig: { triggerInterval: this.props.intervalSeconds ?? 60, maxRetryTime: 3 },
        logConfig: this.props.triggerLogs,
        functionParameter: {},
      },
    });
    // The trail creates its logstore; the trigger needs it to exist.
    if (this.logging) trigger.resource?.addRosDependency(this.logging.logicalId);
    return trigger;
  }

  /** The role SLS assumes to invoke the functions: fc:InvokeFunction on them, nothing else. */
  private role(): ram.Role {
    if (this.invocationRole) return this.invocationRole;
    const names = this.functionNames;
    this.invocationRole = new ram.Role(this, 'TrailInvocationRole', {
      roleName: ros.Fn.sub(`${this.props.prefix}-trail-invoke-\${ALIYUN::Region}`),
      description: 'atrest trail path: SLS invokes the functions with this role',
      assumeRolePolicyDocument: {
        version: '1',
        statement: [
          { action: 'sts:AssumeRole', effect: 'Allow', principal: { service: ['log.aliyuncs.com'] } },
        ],
      },
      policies: [
        {
          policyName: `${this.props.prefix}-trail-invoke`,
          policyDocument: {
            version: '1',
            statement: [
              {
                effect: 'Allow',
                action: ['fc:InvokeFunction'],
                // Resolved lazily: every function added later is included.
                resource: ros.Lazy.listValue({
                  produce: () =>
                    names.map((name) =>
                      ros.Fn.sub(`acs:fc:\${ALIYUN::Region}:\${ALIYUN::AccountId}:functions/${name}`),
                    ),
                }),
              },
            ],
          },
        },
      ],
    });
    return this.invocationRole;
  }
}
