/**
 * atrest across an AWS Organization, from one central deployment (CONTRACT.md section 7):
 *
 *   member account, every region                     central account, home region
 *   ───────────────────────────────                   ──────────────────────────────────────────
 *   CloudTrail (organization trail) ─▶ default bus    bus "atrest-org" (policy: aws:PrincipalOrgID)
 *     rule: the function's CloudTrail events ─────────▶  rule(s), same patterns ─▶ Lambda ─▶ DLQ
 *       (target: central bus, role atrest-forwarder)                                 │
 *   member role <memberRoleName>  ◀────── sts:AssumeRole (only this function's role, │
 *     (exactly the actions of permissions.ts)          only from inside the org) ────┘
 *
 * Two CDK-defined, service-managed CloudFormation StackSets carry the member side, auto-deployed
 * to every account of the chosen OUs (and to accounts that join them later):
 *   - AtrestMemberRoles: once per account (IAM is global), in the home region: the member role and
 *     the role EventBridge uses to put events on the central bus.
 *   - AtrestMemberForwarding: every account and region: the forwarding rule(s).
 * A StackSet's template is each member stack below, synthesised on its own (no assets).
 *
 * The forwarded event patterns are read from the central stack's own CloudTrail rules, so the
 * member side forwards exactly what the function owns (creations and, when present, tamper events).
 *
 * Not deployed by StackSets: the management account (service-managed StackSets skip it; atrest
 * reaches it only if it is the central account itself) and the trail. An organization trail
 * (multi-region, management events) is a trail in every member account and region; a member
 * without one needs its own multi-region trail that records write management events.
 */
import {
  App,
  BootstraplessSynthesizer,
  CfnParameter,
  Fn,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as cfn from 'aws-cdk-lib/aws-cloudformation';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ConfigError } from '#core/errors';
import type { PermissionSet } from '#core/permissions';
import { fillResource } from '#core/permissions';
import type { AtrestStack } from './atrest-stack.ts';

/** The central bus members forward to. */
export const ORG_BUS_NAME = 'atrest-org';
/** The role EventBridge assumes in a member to put events on the central bus. */
export const FORWARDER_ROLE_NAME = 'atrest-forwarder';
const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
const ORG_ID = /^o-[a-z0-9]{10,32}$/;
const OU_ID = /^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/;

export interface OrganizationSettings {
  /** `o-…`: the only organization whose principals may put events and assume member roles. */
  organizationId: string;
  /** OUs (or the root `r-…`) whose accounts get the member stacks. */
  organizationalUnits: readonly string[];
  /** The member role's name (config `aws.organization.memberRoleName`). */
  memberRoleName: string;
  /** Regions the forwarding rules go to (config `aws.organization.regions`). */
  regions: readonly string[];
  /** Where the central function runs; the member roles are created there. */
  homeRegion: string;
  /** True when the central stack is deployed from a delegated administrator, not the management account. */
  delegatedAdmin?: boolean;
}

export function checkOrganizationSettings(s: OrganizationSettings): void {
  const issues: string[] = [];
  if (!ORG_ID.test(s.organizationId))
    issues.push(`organizationId: ${JSON.stringify(s.organizationId)} is not o-…`);
  if (s.organizationalUnits.length === 0)
    issues.push('organizationalUnits: name at least one OU or the root (r-…)');
  for (const ou of s.organizationalUnits)
    if (!OU_ID.test(ou)) issues.push(`organizationalUnits: ${JSON.stringify(ou)} is not ou-… or r-…`);
  if (!s.regions.includes(s.homeRegion)) issues.push(`regions: must include the home region ${s.homeRegion}`);
  if (issues.length > 0) throw new ConfigError(issues);
}

/** The event patterns of the stack's CloudTrail rules (as deployed), for the member side to forward. */
export function cloudTrailPatterns(stack: Stack): Record<string, unknown>[] {
  const patterns: Record<string, unknown>[] = [];
  for (const child of stack.node.findAll()) {
    if (!(child instanceof events.CfnRule) || child.eventBusName !== undefined) continue;
    const pattern = stack.resolve(child.eventPattern) as Record<string, unknown> | undefined;
    const detailType = pattern?.['detail-type'];
    if (Array.isArray(detailType) && detailType.includes(CLOUDTRAIL_DETAIL_TYPE))
      patterns.push(pattern as Record<string, unknown>);
  }
  if (patterns.length === 0)
    throw new ConfigError(['organization: the central stack has no CloudTrail rule to forward']);
  return patterns;
}

/**
 * A member account is not CDK-bootstrapped: no bootstrap-version parameter or rule, no assets, no
 * CDK metadata resource. The StackSet deploys the template as it is.
 */
function memberStackProps(props: StackProps): StackProps {
  return { ...props, synthesizer: new BootstraplessSynthesizer(), analyticsReporting: false };
}

export interface MemberRolesStackProps extends StackProps {
  permissions: PermissionSet;
  settings: OrganizationSettings;
}

/**
 * Per member account (home region only): the member role the central function assumes, and the
 * role EventBridge uses to forward to the central bus. Parameter `CentralRoleArn`: the central
 * function's execution role, the only principal the member role trusts.
 */
export class AtrestMemberRolesStack extends Stack {
  readonly memberRole: iam.CfnRole;

  constructor(scope: Construct, id: string, props: MemberRolesStackProps) {
    super(scope, id, {
      ...memberStackProps(props),
      description:
        'atrest member account: the role the central atrest function assumes, and the event forwarder role',
    });
    const { settings } = props;
    const centralRoleArn = new CfnParameter(this, 'CentralRoleArn', {
      type: 'String',
      description: 'ARN of the central atrest function role (the only principal the member role trusts).',
      allowedPattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/.+$',
    });
    const centralBusArn = new CfnParameter(this, 'CentralBusArn', {
      type: 'String',
      description: `ARN of the central event bus (${ORG_BUS_NAME}) the forwarding rules target.`,
      allowedPattern: '^arn:aws[a-z-]*:events:[a-z0-9-]+:\\d{12}:event-bus/.+$',
    });

    // L1 so the trust policy is exactly this: the one role, and only from inside the organization.
    this.memberRole = new iam.CfnRole(this, 'MemberRole', {
      roleName: settings.memberRoleName,
      description:
        'atrest: assumed by the central atrest function; exactly the actions of its permissions.ts',
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: centralRoleArn.valueAsString },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:PrincipalOrgID': settings.organizationId } },
          },
        ],
      },
      maxSessionDuration: 3600,
      policies: [{ policyName: 'atrest-member', policyDocument: memberPolicy(props.permissions) }],
    });
    for (const s of props.permissions.statements)
      for (const resource of s.resources.filter((r) => r.includes('*')))
        Validations.of(this.memberRole).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${fillResource(resource, { partition: '<AWS::Partition>', account: '<AWS::AccountId>', region: '*' })}]`,
          reason: `${s.actions.join(', ')}: the same actions the central function has, in every region of this account, on resources created later (${s.why}).`,
        });

    new iam.CfnRole(this, 'ForwarderRole', {
      roleName: FORWARDER_ROLE_NAME,
      description:
        'atrest: EventBridge forwards the CloudTrail events of this account to the central atrest bus',
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:SourceAccount': this.account } },
          },
        ],
      },
      policies: [
        {
          policyName: 'atrest-forward',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'events:PutEvents', Resource: centralBusArn.valueAsString },
            ],
          },
        },
      ],
    });
  }
}

/** The member role's policy: permissions.ts, one statement each, any region of this account. */
export function memberPolicy(permissions: PermissionSet): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: permissions.statements.map((s) => ({
      Effect: 'Allow',
      Action: [...s.actions],
      Resource: s.resources.map((r) =>
        r.includes('{')
          ? Fn.sub(
              fillResource(r, {
                partition: `\${AWS::Partition}`,
                account: `\${AWS::AccountId}`,
                region: '*',
              }),
            )
          : r,
      ),
    })),
  };
}

export interface MemberForwardingStackProps extends StackProps {
  /** What to forward: the central stack's CloudTrail rule patterns. */
  patterns: readonly Record<string, unknown>[];
}

/** Per member account and region: forward the function's CloudTrail events to the central bus. */
export class AtrestMemberForwardingStack extends Stack {
  constructor(scope: Construct, id: string, props: MemberForwardingStackProps) {
    super(scope, id, {
      ...memberStackProps(props),
      description:
        'atrest member region: forwards the CloudTrail events atrest owns to the central atrest bus',
    });
    const centralBusArn = new CfnParameter(this, 'CentralBusArn', {
      type: 'String',
      description: `ARN of the central event bus (${ORG_BUS_NAME}).`,
      allowedPattern: '^arn:aws[a-z-]*:events:[a-z0-9-]+:\\d{12}:event-bus/.+$',
    });
    for (const [i, pattern] of props.patterns.entries())
      new events.CfnRule(this, `Forward${i}`, {
        description: `atrest: forward to the central bus: ${describePattern(pattern)}`,
        eventPattern: pattern,
        state: 'ENABLED',
        // A role is required for a target bus in another region (and used for another account).
        targets: [
          {
            id: 'CentralBus',
            arn: centralBusArn.valueAsString,
            roleArn: Fn.sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${FORWARDER_ROLE_NAME}`),
          },
        ],
      });
  }
}

function describePattern(pattern: Record<string, unknown>): string {
  const detail = pattern.detail as { eventName?: unknown } | undefined;
  const names = Array.isArray(detail?.eventName) ? detail.eventName.join(', ') : 'CloudTrail events';
  return `${String((pattern.source as unknown[] | undefined)?.[0] ?? '')} ${names}`.trim().slice(0, 500);
}

export interface OrganizationCentralProps {
  settings: OrganizationSettings;
  permissions: PermissionSet;
}

/**
 * Added to the central AtrestStack: the organization bus and its rules, the function's right to
 * assume member roles, and the two StackSets.
 */
export class OrganizationCentral extends Construct {
  readonly bus: events.EventBus;
  readonly patterns: Record<string, unknown>[];

  constructor(stack: AtrestStack, id: string, props: OrganizationCentralProps) {
    super(stack, id);
    const { settings } = props;
    checkOrganizationSettings(settings);
    // The bus forwards every member CloudTrail rule's pattern to one function, whose role alone
    // the member roles trust and which alone may assume them. With a second AWS function its
    // members' events would reach the wrong function: refused at synth, not misrouted.
    if (stack.functions.length > 1)
      throw new ConfigError([
        `organization: the AWS organization templates serve one function; this stack deploys ${stack.functions
          .map((f) => f.manifest.id)
          .join(', ')} (deploy the others without aws.organization, or in their own stack)`,
      ]);
    this.patterns = cloudTrailPatterns(stack);

    this.bus = new events.EventBus(this, 'Bus', { eventBusName: ORG_BUS_NAME });
    this.bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OrganizationMembersPutEvents',
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': settings.organizationId } },
      }),
    );
    for (const [i, pattern] of this.patterns.entries())
      new events.CfnRule(this, `FromMembers${i}`, {
        description: `atrest: members' events to ${stack.function.functionName}`,
        eventBusName: this.bus.eventBusName,
        eventPattern: pattern,
        state: 'ENABLED',
        targets: [
          {
            id: 'Function',
            arn: stack.function.functionArn,
            retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 6 * 3600 },
            deadLetterConfig: { arn: stack.eventDlq.queueArn },
          },
        ],
      });
    // EventBridge may invoke the function for rules on this bus, and send failures to the DLQ.
    stack.function.addPermission('InvokeFromOrgBus', {
      principal: new iam.ServicePrincipal('events.amazonaws.com'),
      sourceArn: `arn:${stack.partition}:events:${stack.region}:${stack.account}:rule/${ORG_BUS_NAME}/*`,
    });
    stack.eventDlq.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OrgBusRulesDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [stack.eventDlq.queueArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:events:${stack.region}:${stack.account}:rule/${ORG_BUS_NAME}/*`,
          },
        },
      }),
    );
    // The runtime assumes <memberRoleName> in the event's account: any account, inside this organization only.
    stack.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole'],
        resources: [`arn:${stack.partition}:iam::*:role/${settings.memberRoleName}`],
        conditions: { StringEquals: { 'aws:ResourceOrgID': settings.organizationId } },
      }),
    );
    Validations.of(stack.function.role ?? stack.function).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${settings.memberRoleName}]`,
      reason:
        'sts:AssumeRole of the member role in every account of the organization (accounts join over time); limited by aws:ResourceOrgID to this organization.',
    });

    const roleArn = stack.function.role?.roleArn;
    if (roleArn === undefined) throw new ConfigError(['organization: the function has no role']);
    const template = (make: (app: App) => Stack) => {
      const app = new App();
      const member = make(app);
      return app.synth().getStackByName(member.stackName).template as Record<string, unknown>;
    };
    const common = {
      permissionModel: 'SERVICE_MANAGED',
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      capabilities: ['CAPABILITY_NAMED_IAM'],
      ...(settings.delegatedAdmin ? { callAs: 'DELEGATED_ADMIN' } : {}),
      managedExecution: { Active: true },
      operationPreferences: {
        failureTolerancePercentage: 10,
        maxConcurrentPercentage: 25,
        regionConcurrencyType: 'PARALLEL',
      },
      parameters: [{ parameterKey: 'CentralBusArn', parameterValue: this.bus.eventBusArn }],
    } satisfies Partial<cfn.CfnStackSetProps>;
    const roles = new cfn.CfnStackSet(this, 'MemberRoles', {
      ...common,
      stackSetName: 'AtrestMemberRoles',
      description: 'atrest: member role and event forwarder role, once per member account',
      templateBody: JSON.stringify(
        template(
          (app) =>
            new AtrestMemberRolesStack(app, 'AtrestMemberRoles', {
              permissions: props.permissions,
              settings,
            }),
        ),
      ),
      parameters: [...common.parameters, { parameterKey: 'CentralRoleArn', parameterValue: roleArn }],
      stackInstancesGroup: [
        {
          deploymentTargets: { organizationalUnitIds: [...settings.organizationalUnits] },
          regions: [settings.homeRegion],
        },
      ],
    });
    const forwarding = new cfn.CfnStackSet(this, 'MemberForwarding', {
      ...common,
      stackSetName: 'AtrestMemberForwarding',
      description:
        'atrest: forwards the CloudTrail events atrest owns to the central bus, every member region',
      templateBody: JSON.stringify(
        template(
          (app) =>
            new AtrestMemberForwardingStack(app, 'AtrestMemberForwarding', { patterns: this.patterns }),
        ),
      ),
      stackInstancesGroup: [
        {
          deploymentTargets: { organizationalUnitIds: [...settings.organizationalUnits] },
          regions: [...settings.regions],
        },
      ],
    });
    // Forwarding rules name the forwarder role, which the roles StackSet creates.
    forwarding.node.addDependency(roles);
  }
}
