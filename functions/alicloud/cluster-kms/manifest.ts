/** alicloud.cluster-kms as the CLI, the infra and the tests see it (functions/core/manifest.ts). */
import type { FunctionManifest } from '#core/manifest';
import { DAILY_SWEEP, trailEventNames } from '../events.ts';
import { clusterKmsConfig } from './config.ts';
import { CREATION_EVENTS, DEFAULT_DELIVERY, TAMPER_EVENTS, TRAIL_EVENTS } from './events.ts';

export const manifest = {
  id: 'alicloud.cluster-kms',
  cloud: 'alicloud',
  folder: 'cluster-kms',
  section: clusterKmsConfig.section,
  config: clusterKmsConfig,
  events: { creation: CREATION_EVENTS.names, tamper: TAMPER_EVENTS.names },
  delivery: DEFAULT_DELIVERY,
  trigger: {
    eventNames: trailEventNames(TRAIL_EVENTS),
    ...DAILY_SWEEP,
    eventTypes: [
      'cs:ActionTrail:ApiCall',
      'cs:ActionTrail:ConsoleOperation',
      'cs:ActionTrail:AliyunServiceEvent',
    ],
  },
  noDryRun: 'ACK UpdateKMSEncryption takes only ClusterId, kms_key_id and disable_encryption (no DryRun)',
  prerequisites: [
    'alicloud.cluster-kms: ACK Pro clusters only; ACK uses its own service role to reach KMS.',
    'alicloud.cluster-kms: inside every cluster, the function role needs the Kubernetes RBAC binding that allows the KMS change (grant it in the ACK console: Authorizations > RAM roles > the role acs:ram::<account>:role/<prefix>-cluster-kms-<region>, cluster admin or a custom ClusterRole allowing the update); without it every cluster ends failed. `atrest doctor` explains the check.',
  ],
  keyParameters: [{ name: 'ClusterKmsKeyId', path: ['kmsKeyId'] }],
  // doctor --ack-role-id takes it to check each cluster's RBAC grant.
  roleIdOutput: 'ClusterKmsRoleId',
  remediator: async (o) => (await import('./remediator.ts')).createRemediator(o),
} as const satisfies FunctionManifest;
