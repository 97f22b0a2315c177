/** alicloud.disk-default-kms as the CLI, the infra and the tests see it (functions/core/manifest.ts). */
import type { FunctionManifest } from '#core/manifest';
import { trailEventNames } from '../events.ts';
import { diskDefaultKmsConfig } from './config.ts';
import { CREATION_EVENTS, DEFAULT_DELIVERY, TAMPER_EVENTS, TRAIL_EVENTS } from './events.ts';
import { MODIFY_ACCOUNT_ONLY } from './permissions.ts';

export const manifest = {
  id: 'alicloud.disk-default-kms',
  cloud: 'alicloud',
  folder: 'disk-default-kms',
  section: diskDefaultKmsConfig.section,
  config: diskDefaultKmsConfig,
  events: { creation: CREATION_EVENTS.names, tamper: TAMPER_EVENTS.names },
  delivery: DEFAULT_DELIVERY,
  // ecs: or ebs: type is unconfirmed; the timer is the backstop for a missed or late event.
  trigger: { eventNames: trailEventNames(TRAIL_EVENTS), timer: '0 0 */6 * * *', timeoutSeconds: 300 },
  noDryRun: 'ECS ModifyDiskDefaultKMSKeyId takes only RegionId and KMSKeyId (no DryRun)',
  doctorSkips: [
    {
      check: 'account-only',
      detail: `not checkable before the first write: ${MODIFY_ACCOUNT_ONLY}`,
      fix: "set the default key once with the account's own credentials (aliyun ecs ModifyDiskDefaultKMSKeyId --RegionId <region> --KMSKeyId <key>); the function then keeps checking it, and its failed outcome says the same if the role is refused",
    },
  ],
  prerequisites: [
    'alicloud.disk-default-kms: the first customer-managed key needs the service role AliyunECSDiskEncryptDefaultRole (authorize it once in the ECS console).',
  ],
  keyParameters: [{ name: 'DiskDefaultKmsKeyId', path: ['kmsKeyId'] }],
  remediator: async (o) => (await import('./remediator.ts')).createRemediator(o),
} as const satisfies FunctionManifest;
