/** alicloud.logstore-encryption as the CLI, the infra and the tests see it (functions/core/manifest.ts). */
import type { FunctionManifest } from '#core/manifest';
import { trailEventNames } from '../events.ts';
import { CREATION_EVENTS, DEFAULT_DELIVERY, TAMPER_EVENTS, TRAIL_EVENTS } from './events.ts';

export const manifest = {
  id: 'alicloud.logstore-encryption',
  cloud: 'alicloud',
  folder: 'logstore-encryption',
  section: 'logstoreEncryption',
  events: { creation: CREATION_EVENTS.names, tamper: TAMPER_EVENTS.names },
  delivery: DEFAULT_DELIVERY,
  // ActionTrail delivery is best effort: once a day, 03:00 UTC, every resource of the region is
  // swept (stopping 20 s before the timeout: 300 s covers ~1400 calls at the default 5/s).
  trigger: {
    eventNames: trailEventNames(TRAIL_EVENTS),
    timer: '0 0 3 * * *',
    sweeps: true,
    timeoutSeconds: 300,
  },
  noDryRun: 'SLS UpdateLogStoreEncryption has no dry-run mode',
  remediator: async (o) => (await import('./remediator.ts')).createRemediator(o),
} as const satisfies FunctionManifest;
