import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSlsClient, logV1Authorization } from '../../functions/alicloud/sls.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type SlsEmulator, startSls } from './sls.ts';

describe('SLS emulator', () => {
  let sls: SlsEmulator;
  let host: string;

  const client = (credentials = EMULATOR_CREDENTIALS, now?: () => Date) =>
    createSlsClient({
      region: 'cn-hangzhou',
      credentials: () => credentials,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url },
      ...(now ? { now } : {}),
    });

  /** A hand-made, correctly signed GET, so single headers can be broken on purpose. */
  const rawGet = async (
    path: string,
    headers: Record<string, string>,
    hostHeader: string,
    addedAfterSigning: Record<string, string> = {},
  ) => {
    const signed: Record<string, string> = { ...headers };
    signed.authorization = logV1Authorization(
      { method: 'GET', path, headers },
      EMULATOR_CREDENTIALS.accessKeyId,
      EMULATOR_CREDENTIALS.accessKeySecret,
    );
    Object.assign(signed, addedAfterSigning);
    const { request } = await import('node:http');
    const url = new URL(sls.url);
    return new Promise<{ status: number; body: string; requestId: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          hostname: url.hostname,
          port: Number(url.port),
          path,
          method: 'GET',
          headers: { ...signed, host: hostHeader },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body,
              requestId: res.headers['x-log-requestid'] as string | undefined,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  };
  const baseHeaders = () => ({
    date: new Date().toUTCString(),
    'x-log-apiversion': '0.6.0',
    'x-log-bodyrawsize': '0',
    'x-log-signaturemethod': 'hmac-sha256',
  });

  beforeAll(async () => {
    sls = await startSls();
    host = new URL(sls.url).host;
  });
  afterAll(async () => {
    await sls.stop();
  });
  beforeEach(() => {
    sls.state.projects.clear();
    sls.service.resetLog();
    sls.service.clearFaults();
    sls.state.seedLogstore('app-logs', 'access-log');
  });

  it('accepts a correctly signed request and records the call', async () => {
    // Act
    const answer = await rawGet('/logstores/access-log', baseHeaders(), `app-logs.${host}`);

    // Assess
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ logstoreName: 'access-log' });
    expect(sls.service.calls).toEqual([
      expect.objectContaining({
        action: 'GetLogStore',
        resource: 'app-logs/access-log',
        write: false,
        status: 200,
      }),
    ]);
  });

  it('rejects a wrong secret with 401 SignatureNotMatch in the SLS error format', async () => {
    // Act
    const error = await client({ ...EMULATOR_CREDENTIALS, accessKeySecret: 'not-the-secret' })
      .getLogStore('app-logs', 'access-log')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'SignatureNotMatch', status: 401 });
    expect((error as { requestId?: string }).requestId).toMatch(/^emu-/);
  });

  it('rejects an x-log- header added after signing', async () => {
    // Act
    const answer = await rawGet('/logstores/access-log', baseHeaders(), `app-logs.${host}`, {
      'x-log-extra': 'x',
    });

    // Assess
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'SignatureNotMatch' });
  });

  it('rejects an unknown AccessKeyId and a stale Date', async () => {
    // Act
    const unknown = await client({ accessKeyId: 'LTAIunknown', accessKeySecret: 'x' })
      .getLogStore('app-logs', 'access-log')
      .catch((e: unknown) => e);
    const stale = await client(EMULATOR_CREDENTIALS, () => new Date(Date.now() - 20 * 60_000))
      .getLogStore('app-logs', 'access-log')
      .catch((e: unknown) => e);

    // Assess
    expect(unknown).toMatchObject({ code: 'Unauthorized', status: 401 });
    expect(stale).toMatchObject({ code: 'RequestTimeExpired', status: 400 });
  });

  it('takes the project from the Host header only', async () => {
    // Act
    const noProject = await rawGet('/logstores/access-log', baseHeaders(), host);
    const otherProject = await rawGet('/logstores/access-log', baseHeaders(), `other-project.${host}`);

    // Assess
    expect(noProject.status).toBe(400);
    expect(JSON.parse(noProject.body)).toMatchObject({ errorCode: 'InvalidHost' });
    expect(otherProject.status).toBe(404);
    expect(JSON.parse(otherProject.body)).toMatchObject({ errorCode: 'ProjectNotExist' });
    expect(otherProject.requestId).toMatch(/^emu-/);
  });

  it('keeps encryption type and key immutable, but lets enable change', async () => {
    // Prepare
    const c = client();
    await c.updateLogStoreEncryption('app-logs', 'access-log', { enable: false, encryptType: 'default' });

    // Act
    const changeType = await c
      .updateLogStoreEncryption('app-logs', 'access-log', { enable: true, encryptType: 'aes_gcm' })
      .catch((e: unknown) => e);
    await c.updateLogStoreEncryption('app-logs', 'access-log', { enable: true, encryptType: 'default' });

    // Assess
    expect(changeType).toMatchObject({ code: 'ParameterInvalid', status: 400 });
    expect(sls.state.logstore('app-logs', 'access-log')?.encrypt_conf).toEqual({
      enable: true,
      encrypt_type: 'default',
    });
    expect(sls.service.count({ action: 'UpdateLogStoreEncryption', write: true })).toBe(3);
  });

  it('answers injected throttling in the SLS format', async () => {
    // Prepare
    sls.service.rateLimit('GetLogStore', 1);

    // Act
    await client().getLogStore('app-logs', 'access-log');
    const second = await client()
      .getLogStore('app-logs', 'access-log')
      .catch((e: unknown) => e);

    // Assess
    expect(second).toMatchObject({ code: 'ExceedQuota', status: 403 });
  });
});
