/**
 * The installed entry point, as a user runs it: `node bin/atrest.mjs …` in a child process, the
 * emulator in this one. stdout carries NDJSON only; exit codes 0 / 1 / 2.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallerSts, startCallerSts } from '../emulator/accounts.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { BIN, ROOT, writeConfig, writeEvents } from './helpers.ts';

const EVENT = fileURLToPath(new URL('../../events/aws/log-group-kms/create-log-group.json', import.meta.url));
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let logs: EmulatedService;
// The CLI asks STS GetCallerIdentity for its own account (once per run).
let sts: CallerSts;
let state: CloudWatchLogsState;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Async, not spawnSync: the emulator answering the child lives in this process's event loop. */
function atrest(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function brokenFile(): string {
  const path = writeEvents('broken.json', null);
  writeFileSync(path, '{ "id": "half an event"');
  return path;
}

const ndjson = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  ({ service: logs, state } = await startCloudWatchLogs());
  sts = await startCallerSts();
  state.seedKey(KEY).seedLogGroup('/app/orders/api', KEY);
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    AWS_ENDPOINT_URL_STS: sts.env.AWS_ENDPOINT_URL_STS,
    ATREST_CONFIG: writeConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } } }),
  };
});
afterAll(() => Promise.all([logs.stop(), sts.stop()]));

describe('bin/atrest.mjs', () => {
  it('replays an event against the emulator: one NDJSON line on stdout, exit 0', async () => {
    const run = await atrest(['replay', EVENT]);

    expect(run.code).toBe(0);
    expect(ndjson(run.stdout)).toEqual([
      expect.objectContaining({ function: 'aws.log-group-kms', outcome: 'compliant', attempts: 0 }),
    ]);
    expect(run.stderr).toMatch(/atrest: 1 processed: 1 compliant/);
  });

  it('exits 1 with a rejected line for a file that is not JSON, and 2 for a usage error', async () => {
    const [rejected, usage, help] = await Promise.all([
      atrest(['replay', brokenFile()]),
      atrest(['sweep', 'aws.log-group-kms', '--rate', 'zero']),
      atrest(['replay', '--help']),
    ]);

    expect(rejected.code).toBe(1);
    expect(ndjson(rejected.stdout)).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        error: expect.objectContaining({ code: 'InvalidEvent' }),
      }),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/--rate must be a number/);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe('');
    expect(help.stderr).toMatch(/atrest replay --remote/);
  });
});
