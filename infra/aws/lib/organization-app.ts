/**
 * Organization mode of the AWS app: with context `organizationId` (and `organizationalUnits`), the
 * central stack gains the organization bus, its rules and the StackSets, and the two member
 * templates are added to the app (cdk-nag checks them; `npm run synth` writes them).
 */
import type { App } from 'aws-cdk-lib';
import type { PermissionSet } from '#core/permissions';
import { parseConfig } from '../../../functions/config.ts';
import { booleanFrom, stringFrom } from '../../config-source.ts';
import type { AtrestStack } from './atrest-stack.ts';
import {
  AtrestMemberForwardingStack,
  AtrestMemberRolesStack,
  OrganizationCentral,
  type OrganizationSettings,
} from './organization.ts';

export const DEFAULT_MEMBER_ROLE_NAME = 'atrest-member';

export function organizationSettings(
  context: (key: string) => unknown,
  config: unknown,
  env: Record<string, string | undefined> = process.env,
): OrganizationSettings | undefined {
  const organizationId = stringFrom(context, 'organizationId');
  if (organizationId === undefined) return undefined;
  const organization = parseConfig(config).aws?.organization;
  const homeRegion = stringFrom(context, 'homeRegion') ?? env.CDK_DEFAULT_REGION ?? 'us-east-1';
  return {
    organizationId,
    organizationalUnits: (stringFrom(context, 'organizationalUnits') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    memberRoleName: organization?.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME,
    regions: organization?.regions ?? [homeRegion],
    homeRegion,
    delegatedAdmin: booleanFrom(context, 'delegatedAdmin', false),
  };
}

export function addOrganization(
  app: App,
  stack: AtrestStack,
  context: (key: string) => unknown,
  config: unknown,
  permissions: PermissionSet,
): OrganizationCentral | undefined {
  const settings = organizationSettings(context, config);
  if (settings === undefined) return undefined;
  const central = new OrganizationCentral(stack, 'Organization', { settings, permissions });
  new AtrestMemberRolesStack(app, 'AtrestMemberRoles', { permissions, settings });
  new AtrestMemberForwardingStack(app, 'AtrestMemberForwarding', { patterns: central.patterns });
  return central;
}
