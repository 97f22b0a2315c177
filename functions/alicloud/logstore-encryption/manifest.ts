/** alicloud.logstore-encryption as the CLI, the infra and the tests see it (functions/core/manifest.ts). */
import type { FunctionManifest } from '#core/manifest';
import { DAILY_SWEEP, trailEventNames } from '../events.ts';
import { logstoreEncryptionConfig } from './config.ts';
import { CREATION_EVENTS, DEFAULT_DELIVERY, TAMPER_EVENTS, TRAIL_EVENTS } from './events.ts';

export const manifest = {
  id: 'alicloud.logstore-encryption',
  cloud: 'alicloud',
  folder: 'logstore-encryption',
  section: logstoreEncryptionConfig.section,
  config: logstoreEncryptionConfig,
  events: { creation: CREATION_EVENTS.names, tamper: TAMPER_EVENTS.names },
  delivery: DEFAULT_DELIVERY,
  trigger: {
    eventNames: trailEventNames(TRAIL_EVENTS),
    ...DAILY_SWEEP,
  },
  noDryRun: 'SLS UpdateLogStoreEncryption has no dry-run mode',
  // SLS is not among the services whose ActionTrail events reach EventBridge: the trail path carries them.
  noEventBridgeRule:
    "no EventBridge rule for CreateLogStore; SLS events are not in EventBridge's ActionTrail list, the trail path (and the daily sweep) cover them",
  prerequisites: [
    'alicloud.logstore-encryption with BYOK: userCmkInfo.roleArn must name a role SLS can assume to use the key.',
  ],
  keyParameters: [{ name: 'LogstoreKmsKeyId', path: ['userCmkInfo', 'keyId'] }],
  remediator: async (o) => (await import('./remediator.ts')).createRemediator(o),
} as const satisfies FunctionManifest;
