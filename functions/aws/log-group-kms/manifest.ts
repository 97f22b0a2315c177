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
  // The daily sweep pages through every log group in one invocation: 5 minutes.
  trigger: {
    eventNames: [...EVENT_NAMES.creation, ...EVENT_NAMES.tamper],
    sweeps: true,
    timeoutSeconds: 300,
  },
  keyParameters: [{ name: 'KmsKeyArn', path: ['kmsKeyArn'] }],
  aws: {
    source: 'aws.logs',
    eventSource: 'logs.amazonaws.com',
    resource: 'log group',
    createdKey: {
      description: 'atrest: encrypts CloudWatch Logs log groups at rest',
      alias: 'alias/atrest/logs',
      sid: 'AllowCloudWatchLogs',
      // Regional and partitional: logs.<region>.amazonaws.com, logs.cn-north-1.amazonaws.com.cn in
      // China (aws-cdk region-info: `case 'logs': return regionalPartitional`).
      service: 'logs',
      encryptionContext: {
        key: 'kms:EncryptionContext:aws:logs:arn',
        arnLike: 'arn:{partition}:logs:{region}:{account}:log-group:*',
      },
    },
  },
  remediator: async (o) =>
    (await import('./remediator.ts')).createRemediator({
      ...(o.env ? { env: o.env } : {}),
      ...(o.account ? { accountId: o.account } : {}),
      ...(o.logsClient ? { client: o.logsClient as never } : {}),
    }),
} as const satisfies FunctionManifest;
