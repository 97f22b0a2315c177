/**
 * The Function Compute entry: FC hands the CloudEvent as a Buffer; credentials come from the FC
 * context; config and endpoint from the environment.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FcRemediationError } from '../../../../functions/alicloud/fc.ts';
import { handler } from '../../../../functions/alicloud/logstore-encryption/handler.ts';
import { EMULATOR_CREDENTIALS } from '../../../emulator/acs3.ts';
import { type SlsEmulator, startSls } from '../../../emulator/sls.ts';

const sample = (): Record<string, unknown> & { data: Record<string, unknown> } =>
  JSON.parse(
    readFileSync(
      new URL('../../../../events/alicloud/logstore-encryption/create-logstore.json', import.meta.url),
      'utf8',
    ),
  );
const context = { requestId: 'fc-req-1', credentials: EMULATOR_CREDENTIALS, function: { timeout: 60 } };

describe('logstore-encryption FC handler', () => {
  let sls: SlsEmulator;

  beforeAll(async () => {
    sls = await startSls();
    vi.stubEnv(
      'ATREST_CONFIG_JSON',
      JSON.stringify({ alicloud: { logstoreEncryption: { encryptType: 'default' } } }),
    );
    vi.stubEnv('ALIBABA_CLOUD_ENDPOINT_SLS', sls.url);
    vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await sls.stop();
  });

  it('remediates the event FC delivers as a Buffer, with the context credentials', async () => {
    // Prepare
    sls.state.seedLogstore('app-logs-prod', 'access-log');

    // Act
    const outcomes = await handler(Buffer.from(JSON.stringify(sample())), context);

    // Assess
    expect(outcomes).toMatchObject([{ outcome: 'applied', resource: 'app-logs-prod/access-log' }]);
    expect(sls.state.logstore('app-logs-prod', 'access-log')?.encrypt_conf).toEqual({
      enable: true,
      encrypt_type: 'default',
    });
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining('"outcome":"applied"'));
  });

  it.each([
    ['not JSON', Buffer.from('{"id": "half an event')],
    [
      'wrong types',
      Buffer.from(JSON.stringify({ ...sample(), id: 12, type: ['x'], data: 'CreateLogStore' })),
    ],
    [
      'bad names',
      Buffer.from(
        JSON.stringify({
          ...sample(),
          data: {
            ...sample().data,
            requestParameters: { ProjectName: '../etc', logstoreName: 'x' },
            referencedResources: null,
          },
        }),
      ),
    ],
    ['10 KB of garbage', Buffer.from('\u0000\u00ff'.repeat(5_120), 'latin1')],
  ])('rejects %s without calling SLS, and fails the invocation', async (_why, body) => {
    // Prepare
    sls.service.resetLog();

    // Act: a rejected event fails the invocation so FC's retry and dead letter see it
    const thrown = await handler(body, context).catch((e: unknown) => e);

    // Assess
    expect(thrown).toBeInstanceOf(FcRemediationError);
    expect((thrown as FcRemediationError).outcomes).toMatchObject([
      { outcome: 'rejected', error: { code: 'InvalidEvent' } },
    ]);
    expect(sls.service.calls).toHaveLength(0);
  });
});
