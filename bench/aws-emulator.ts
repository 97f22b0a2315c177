/**
 * The CloudWatch Logs emulator for the whole benchmark process, started once. The function's own
 * client (`logsClient`, one per region for the life of the process, as in a warm Lambda) reads
 * `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` when it is first used, so every section must talk to the same
 * emulator; sections keep apart by using their own log group names.
 */
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../test/emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../test/emulator/harness.ts';

export const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let running: Promise<{ service: EmulatedService; state: CloudWatchLogsState }> | undefined;
/** Kept after a stop: a restart listens on the same port, so cached SDK clients still reach it. */
let port: number | undefined;

/**
 * Starts the emulator on first use and points the AWS SDK at it (endpoint and dummy credentials
 * only). Its state is fresh after a restart; the signing key is seeded.
 */
export function cloudWatchLogs(): Promise<{ service: EmulatedService; state: CloudWatchLogsState }> {
  running ??= startCloudWatchLogs(port !== undefined ? { port } : {}).then((emulator) => {
    port = Number(new URL(emulator.service.url).port);
    process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = emulator.service.url;
    process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    emulator.state.seedKey(AWS_KEY);
    return emulator;
  });
  return running;
}

export async function stopCloudWatchLogs(): Promise<void> {
  const current = running;
  running = undefined;
  if (current) await (await current).service.stop();
}
