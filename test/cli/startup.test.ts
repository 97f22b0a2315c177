/**
 * What the CLI refuses or tolerates before any event runs: a bad Alibaba Cloud endpoint variable
 * stops it at start-up (exit 2, the variable named, nothing on stdout); a UTF-8 file saved with a
 * byte-order mark is an ordinary event file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import { startCallerSts } from '../emulator/accounts.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { captureIo, outcomesOf, writeConfig, writeEvents } from './helpers.ts';

const EVENT = fileURLToPath(new URL('../../events/aws/log-group-kms/create-log-group.json', import.meta.url));
const SLS_EVENT = fileURLToPath(
  new URL('../../events/alicloud/logstore-encryption/create-logstore.json', import.meta.url),
);
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let logs: EmulatedService;
let state: CloudWatchLogsState;
let env: Record<string, string | undefined>;
let sts: Awaited<ReturnType<typeof startCallerSts>>;

beforeAll(async () => {
  ({ service: logs, state } = await startCloudWatchLogs());
  // The CLI asks STS GetCallerIdentity for its own account once per run.
  sts = await startCallerSts();
  state.seedKey(KEY).seedLogGroup('/app/orders/api', KEY);
  env = {
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    ...sts.env,
    ATREST_CONFIG: writeConfig({
      aws: { logGroupKms: { kmsKeyArn: KEY } },
      alicloud: { logstoreEncryption: { encryptType: 'default' } },
    }),
  };
});
afterAll(async () => {
  await logs.stop();
  await sts.stop();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('atrest start-up checks', () => {
  it('exits 2 naming the variable when an Alibaba Cloud endpoint has a scheme other than http(s)', async () => {
    const io = captureIo({
      ...env,
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'id',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'secret',
      ALIBABA_CLOUD_ENDPOINT_SLS: 'ftp://x',
    });

    const code = await main(['replay', SLS_EVENT, SLS_EVENT], io);

    expect(code).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toContain(
      'ALIBABA_CLOUD_ENDPOINT_SLS: scheme must be http or https ("ftp://x")',
    );
  });

  it('stops a sweep the same way, before listing anything', async () => {
    const io = captureIo({ ...env, ALIBABA_CLOUD_ENDPOINT_ECS: 'not a url' });

    const code = await main(['sweep', 'aws.log-group-kms'], io);

    expect(code).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toContain('ALIBABA_CLOUD_ENDPOINT_ECS: not a URL');
  });

  it('reads an event file that starts with a UTF-8 byte-order mark', async () => {
    const path = writeEvents('bom.json', null);
    writeFileSync(path, `\uFEFF${readFileSync(EVENT, 'utf8')}`);
    // The AWS SDK reads credentials and endpoints from process.env itself.
    for (const [name, value] of Object.entries(env)) if (name.startsWith('AWS_')) vi.stubEnv(name, value);
    const io = captureIo(env);

    const code = await main(['replay', path], io);

    expect(code).toBe(0);
    expect(outcomesOf(io)).toEqual([expect.objectContaining({ outcome: 'compliant' })]);
    expect(io.stderr.join('\n')).not.toContain('\uFEFF');
  });
});
