/**
 * RAM permissions of alicloud.logstore-encryption. Infra builds the function role's policy from
 * this; the resource patterns are SLS's own (`acs:log:{region}:{account}:project/…`).
 *
 * The write: SLS publishes no RAM action for UpdateLogStoreEncryption (its API page says "no
 * authorization information"); the SLS action list names `log:UpdateLogStore` for updating a
 * logstore's attributes, so that is what we grant. UNCONFIRMED against a live account: if SLS
 * answers Unauthorized for the write, the action it wants is the one to add here.
 */

import type { PermissionSet, PermissionStatement } from '#core/permissions';
import type { LogstoreEncryptionConfig } from './config.ts';

const LOGSTORES = 'acs:log:{region}:{account}:project/*/logstore/*';

export const permissions: PermissionSet = {
  cloud: 'alicloud',
  statements: [
    {
      actions: ['log:GetLogStore', 'log:UpdateLogStore'],
      resources: [LOGSTORES],
      why: 'read a logstore encrypt_conf (GetLogStore) and set it (UpdateLogStoreEncryption)',
    },
    {
      actions: ['log:ListProject'],
      resources: ['acs:log:{region}:{account}:project/*'],
      why: 'sweep: list the projects of a region',
    },
    {
      actions: ['log:ListLogStores'],
      resources: [LOGSTORES],
      why: 'sweep: list the logstores of each project',
    },
  ],
};

/**
 * With bring-your-own-key, SLS requires the caller to pass the key's RAM role (ram:PassRole on
 * `userCmkInfo.roleArn`). The role ARNs come from the config, so this set is config-dependent.
 */
export function permissionsFor(config: LogstoreEncryptionConfig | undefined): PermissionSet {
  const roles = new Set<string>();
  if (config?.userCmkInfo) roles.add(config.userCmkInfo.roleArn);
  for (const cmk of Object.values(config?.byRegion ?? {})) roles.add(cmk.roleArn);
  if (roles.size === 0) return permissions;
  const passRole: PermissionStatement = {
    actions: ['ram:PassRole'],
    resources: [...roles].sort(),
    why: 'BYOK: SLS needs the caller to pass the role it uses to reach the KMS key',
  };
  return { cloud: 'alicloud', statements: [...permissions.statements, passRole] };
}
