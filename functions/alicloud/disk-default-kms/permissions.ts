/**
 * RAM permissions of alicloud.disk-default-kms. Infra builds the function role's policy from this.
 *
 * UNCONFIRMED: the ECS API reference publishes no authorization information for these four
 * APIs, so the actions are the `ecs:<ApiName>` convention every other ECS API follows, on the
 * region's ECS resources. The ModifyDiskDefaultKMSKeyId page also says "Only Alibaba Cloud
 * accounts can call this operation"; if ECS enforces that for RAM roles, no policy helps and the
 * write ends `failed` with the service's code.
 *
 * The first use of a customer-managed key also needs the service-linked role
 * `AliyunECSDiskEncryptDefaultRole` (ECS's access to KMS): an account set-up step, not this role's.
 */

import type { PermissionSet } from '#core/permissions';
import type { DiskDefaultKmsConfig } from './config.ts';

const ECS_REGION = 'acs:ecs:{region}:{account}:*';

/** What the ECS API reference says about who may call ModifyDiskDefaultKMSKeyId. */
export const MODIFY_ACCOUNT_ONLY =
  'ECS ModifyDiskDefaultKMSKeyId can only be called by Alibaba Cloud accounts (API reference: "Only Alibaba Cloud accounts can call this operation"), so the function\'s RAM role may be refused';

export const permissions: PermissionSet = {
  cloud: 'alicloud',
  statements: [
    {
      actions: ['ecs:DescribeDiskEncryptionByDefaultStatus', 'ecs:DescribeDiskDefaultKMSKeyId'],
      resources: [ECS_REGION],
      why: 'read whether default disk encryption is on and which key it uses',
    },
    {
      actions: ['ecs:ModifyDiskDefaultKMSKeyId'],
      resources: [ECS_REGION],
      why: 'set the default disk encryption key',
    },
    {
      actions: ['ecs:EnableDiskEncryptionByDefault'],
      resources: [ECS_REGION],
      why: 'only with enableIfDisabled: turn default disk encryption on first',
    },
  ],
};

/**
 * What the deployed role needs for this config: the timer checks every region in `regions` (and
 * `byRegion`), so the ECS grants cover each of them, not only the stack's region; and
 * `ecs:EnableDiskEncryptionByDefault` only when `enableIfDisabled` is on (otherwise the function
 * never turns encryption on, it only reports it off).
 */
export function permissionsFor(config: DiskDefaultKmsConfig | undefined): PermissionSet {
  const regions = [...new Set([...(config?.regions ?? []), ...Object.keys(config?.byRegion ?? {})])].sort();
  const resources = regions.length === 0 ? [ECS_REGION] : regions.map((r) => `acs:ecs:${r}:{account}:*`);
  return {
    cloud: 'alicloud',
    statements: permissions.statements
      .filter(
        (s) => config?.enableIfDisabled === true || !s.actions.includes('ecs:EnableDiskEncryptionByDefault'),
      )
      .map((s) => ({ ...s, resources })),
  };
}
