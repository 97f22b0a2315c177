/** aws.log-group-kms as the CLI, the infra and the tests see it (functions/core/manifest.ts). */
import type { FunctionManifest } from '#core/manifest';
import { logGroupKmsConfig } from './config.ts';
import { EVENT_NAMES } from './events.ts';

export const manifest = {
  id: 'aws.log-group-kms',
  cloud: 'aws',
  folder: 'log-group-kms',
  section: logGroupKmsConfig.section,
  config: logGroupKmsConfig,
  events: EVENT_NAMES,
  trigger: { eventNames: [...EVENT_NAMES.creation, ...EVENT_NAMES.tamper] },
  remediator: async (o) =>
    (await import('./remediator.ts')).createRemediator({
      ...(o.env ? { env: o.env } : {}),
      ...(o.account ? { accountId: o.account } : {}),
      ...(o.logsClient ? { client: o.logsClient as never } : {}),
    }),
} as const satisfies FunctionManifest;
