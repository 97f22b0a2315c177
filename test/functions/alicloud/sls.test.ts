import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  DeniedError,
  GoneError,
  InvalidError,
  QuotaExceededError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import {
  classifySlsError,
  createSlsClient,
  logV1Authorization,
  logV1StringToSign,
  SLS_LOGSTORE,
  SLS_PROJECT,
  SlsNetworkError,
  SlsServiceError,
  slsRoute,
} from '../../../functions/alicloud/sls.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type SlsEmulator, startSls } from '../../emulator/sls.ts';

describe('LOG v1 signature', () => {
  // Vector computed by a separate Python transliteration of @alicloud/gateway-sls 0.3.2
  // getSignature/buildCanonicalizedHeaders/buildCanonicalizedResource.
  const headers = {
    accept: 'application/json',
    date: 'Fri, 01 May 2026 08:00:00 GMT',
    'content-type': 'application/json',
    'content-md5': '98DB804BE155408AB72437C0669D1842',
    'x-log-apiversion': '0.6.0',
    'x-log-bodyrawsize': '39',
    'x-log-signaturemethod': 'hmac-sha256',
    'x-acs-security-token': 'token',
  };

  it('builds the string to sign with sorted x-log-/x-acs- headers and no Host', () => {
    // Act
    const text = logV1StringToSign({ method: 'PUT', path: '/logstores/ls1/encryption', headers });

    // Assess
    expect(text).toBe(
      'PUT\n98DB804BE155408AB72437C0669D1842\napplication/json\nFri, 01 May 2026 08:00:00 GMT\n' +
        'x-acs-security-token:token\nx-log-apiversion:0.6.0\nx-log-bodyrawsize:39\nx-log-signaturemethod:hmac-sha256\n' +
        '/logstores/ls1/encryption',
    );
  });

  it('signs a PUT with body and STS token as gateway-sls does', () => {
    expect(
      logV1Authorization({ method: 'PUT', path: '/logstores/ls1/encryption', headers }, 'ak', 'sk'),
    ).toBe('LOG ak:jtZ9fMPYhN/3UWX2cH/Dep0K0OCwVyqWclrMMVHcWQQ=');
  });

  it('signs a GET with its query sorted by name', () => {
    const get = {
      method: 'GET',
      path: '/',
      query: { size: '500', offset: '0' },
      headers: {
        date: 'Fri, 01 May 2026 08:00:00 GMT',
        'x-log-apiversion': '0.6.0',
        'x-log-bodyrawsize': '0',
        'x-log-signaturemethod': 'hmac-sha256',
      },
    };
    expect(logV1StringToSign(get).endsWith('\n/?offset=0&size=500')).toBe(true);
    expect(logV1Authorization(get, 'ak', 'sk')).toBe('LOG ak:h9Gxuw3RAziqtB9eI6N8+QwRGK9YnWEqoirsEjy2Fa4=');
  });
});

describe('slsRoute', () => {
  it('connects to <project>.<region>.log.aliyuncs.com on the real service', () => {
    const endpoint = { protocol: 'https', host: 'cn-hangzhou.log.aliyuncs.com', overridden: false } as const;
    expect(slsRoute(endpoint, 'p1')).toEqual({
      connect: 'p1.cn-hangzhou.log.aliyuncs.com',
      host: 'p1.cn-hangzhou.log.aliyuncs.com',
    });
    expect(slsRoute(endpoint, undefined)).toEqual({
      connect: 'cn-hangzhou.log.aliyuncs.com',
      host: 'cn-hangzhou.log.aliyuncs.com',
    });
  });

  it('connects to the override address and names the project only in Host', () => {
    const endpoint = { protocol: 'http', host: '127.0.0.1:4510', overridden: true } as const;
    expect(slsRoute(endpoint, 'p1')).toEqual({ connect: '127.0.0.1:4510', host: 'p1.127.0.0.1:4510' });
  });
});

describe('SLS name patterns', () => {
  it.each(['ab1', 'app-logs-prod', 'a'.repeat(63)])('accepts project %s', (name) => {
    expect(SLS_PROJECT.test(name)).toBe(true);
  });
  it.each(['ab', '-abc', 'abc-', 'Abc', 'a_b_c', 'a'.repeat(64), 'p1.evil.com', 'p/1'])(
    'rejects project %s',
    (name) => {
      expect(SLS_PROJECT.test(name)).toBe(false);
    },
  );
  it.each(['ls1', 'access_log', 'access-log', 'a'.repeat(63)])('accepts logstore %s', (name) => {
    expect(SLS_LOGSTORE.test(name)).toBe(true);
  });
  it.each(['ls', '_abc', 'abc_', 'ABC', 'a/b', 'a'.repeat(64), 'a.b.c'])('rejects logstore %s', (name) => {
    expect(SLS_LOGSTORE.test(name)).toBe(false);
  });
});

describe('classifySlsError', () => {
  const service = (code: string, status: number) =>
    new SlsServiceError(code, `boom ${code}`, status, 'rid-1');

  it.each([
    ['LogStoreNotExist', 404, GoneError],
    ['ProjectNotExist', 404, GoneError],
    ['Unauthorized', 401, DeniedError],
    ['SignatureNotMatch', 401, DeniedError],
    ['ParameterInvalid', 400, InvalidError],
    ['InvalidParameter.KeyId', 400, InvalidError],
    ['ServerBusy', 503, TransientError],
    ['InternalServerError', 500, TransientError],
    ['ExceedQuota', 403, QuotaExceededError],
    ['WriteQuotaExceed', 403, ThrottledError],
    ['Throttling.User', 400, ThrottledError],
    ['Whatever', 429, ThrottledError],
    ['Whatever', 502, TransientError],
    ['Whatever', 409, ConflictError],
    ['Whatever', 418, UnexpectedError],
  ] as const)('%s (HTTP %i) is %s', (code, status, type) => {
    // Act
    const error = classifySlsError(service(code, status));

    // Assess
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.requestId).toBe('rid-1');
  });

  it('treats connection resets and timeouts as transient, unknown network failures as unexpected', () => {
    expect(classifySlsError(new SlsNetworkError('ECONNRESET', 'reset'))).toBeInstanceOf(TransientError);
    expect(classifySlsError(new SlsNetworkError('RequestTimeout', 'slow'))).toBeInstanceOf(TransientError);
    expect(classifySlsError(new SlsNetworkError('ENOTFOUND', 'dns'))).toBeInstanceOf(UnexpectedError);
  });

  it('passes typed errors through and wraps anything else', () => {
    const typed = new InvalidError('bad', { code: 'InvalidProjectName' });
    expect(classifySlsError(typed)).toBe(typed);
    expect(classifySlsError(new TypeError('x')).code).toBe('TypeError');
  });
});

describe('ExceedQuota: a rate or a hard quota', () => {
  it.each([
    ['Project operation qps exceed', ThrottledError, true],
    ['Project write quota exceed: inflow: 100GB', ThrottledError, true],
    ['Rate exceeded', ThrottledError, true],
    ['domain quota exceed', QuotaExceededError, false],
    ['logstore count exceeds the quota of project', QuotaExceededError, false],
  ] as const)('"%s" is %s (retryable: %s), code kept', (message, type, retryable) => {
    const error = classifySlsError(new SlsServiceError('ExceedQuota', message, 403, 'rid-q'));

    expect(error).toBeInstanceOf(type);
    expect({ code: error.code, requestId: error.requestId, retryable: error.retryable }).toEqual({
      code: 'ExceedQuota',
      requestId: 'rid-q',
      retryable,
    });
  });
});

describe('SLS client against the emulator', () => {
  let sls: SlsEmulator;
  const client = (extra: Record<string, string> = {}, credentials = EMULATOR_CREDENTIALS) =>
    createSlsClient({
      region: 'cn-hangzhou',
      credentials: () => credentials,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url, ...extra },
    });

  beforeAll(async () => {
    sls = await startSls();
  });
  afterAll(async () => {
    await sls.stop();
  });
  beforeEach(() => {
    sls.state.projects.clear();
    sls.state.hosts.length = 0;
    sls.service.resetLog();
    sls.service.clearFaults();
  });

  it('sends the project in the Host header while connecting to the override address', async () => {
    // Prepare
    sls.state.seedLogstore('app-logs', 'access-log');

    // Act
    const logstore = await client().getLogStore('app-logs', 'access-log');

    // Assess
    expect(logstore).toEqual({ logstoreName: 'access-log' });
    expect(sls.state.hosts).toEqual([`app-logs.${new URL(sls.url).host}`]);
  });

  it('reads encrypt_conf (snake_case) into the camelCase state', async () => {
    // Prepare
    sls.state.seedLogstore('app-logs', 'byok', {
      enable: true,
      encrypt_type: 'aes_gcm',
      user_cmk_info: {
        cmk_key_id: 'key-1',
        arn: 'acs:ram::1234567890123456:role/slsrole',
        region_id: 'cn-hangzhou',
      },
    });

    // Act
    const logstore = await client().getLogStore('app-logs', 'byok');

    // Assess
    expect(logstore.encryptConf).toEqual({
      enable: true,
      encryptType: 'aes_gcm',
      userCmkInfo: {
        keyId: 'key-1',
        roleArn: 'acs:ram::1234567890123456:role/slsrole',
        regionId: 'cn-hangzhou',
      },
    });
  });

  it('writes the camelCase UpdateLogStoreEncryption body', async () => {
    // Prepare
    sls.state.seedLogstore('app-logs', 'access-log');

    // Act
    await client().updateLogStoreEncryption('app-logs', 'access-log', {
      enable: true,
      encryptType: 'default',
    });

    // Assess
    expect(sls.state.logstore('app-logs', 'access-log')?.encrypt_conf).toEqual({
      enable: true,
      encrypt_type: 'default',
    });
  });

  it('signs the STS token (x-acs-security-token) when the credentials carry one', async () => {
    // Prepare: an emulator that only accepts this token
    const sts = await startSls({ credentials: [{ ...EMULATOR_CREDENTIALS, securityToken: 'sts-token' }] });
    sts.state.seedLogstore('app-logs', 'access-log');
    const env = { ALIBABA_CLOUD_ENDPOINT_SLS: sts.url };
    const make = (securityToken?: string) =>
      createSlsClient({
        region: 'cn-hangzhou',
        env,
        credentials: () => ({ ...EMULATOR_CREDENTIALS, ...(securityToken ? { securityToken } : {}) }),
      });

    try {
      // Act
      const ok = await make('sts-token').getLogStore('app-logs', 'access-log');
      const denied = await make()
        .getLogStore('app-logs', 'access-log')
        .catch((e: unknown) => e);

      // Assess
      expect(ok.logstoreName).toBe('access-log');
      expect(denied).toMatchObject({ code: 'Unauthorized', status: 401 });
    } finally {
      await sts.stop();
    }
  });

  it('surfaces SLS errors with their code and x-log-requestid', async () => {
    // Act
    const error = await client()
      .getLogStore('missing-project', 'access-log')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(SlsServiceError);
    expect(error).toMatchObject({ code: 'ProjectNotExist', status: 404 });
    expect((error as SlsServiceError).requestId).toMatch(/^emu-/);
  });

  it('refuses invalid names before any request is made', async () => {
    // Act
    const error = await client()
      .getLogStore('p1.attacker.example', 'ls1')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidError);
    expect(sls.service.calls).toHaveLength(0);
  });

  it('pages through projects and logstores', async () => {
    // Prepare
    for (let i = 0; i < 3; i++) sls.state.seedLogstore(`proj-${i}`, `ls-${i}`);

    // Act
    const first = await client().listProjects({ offset: 0, size: 2 });
    const second = await client().listProjects({ offset: 2, size: 2 });
    const logstores = await client().listLogStores('proj-1', { offset: 0, size: 500 });

    // Assess
    expect(first).toEqual({
      total: 3,
      projects: [
        expect.objectContaining({ projectName: 'proj-0' }),
        expect.objectContaining({ projectName: 'proj-1' }),
      ],
    });
    expect(second.projects.map((p) => p.projectName)).toEqual(['proj-2']);
    expect(logstores).toEqual({ total: 1, logstores: ['ls-1'] });
    expect(sls.state.hosts).toContain(`proj-1.${new URL(sls.url).host}`);
  });

  it('reports a reset connection as a network error', async () => {
    // Prepare
    sls.state.seedLogstore('app-logs', 'access-log');
    sls.service.failNext('GetLogStore', { status: 0, code: 'reset', times: 1, transport: 'reset' });

    // Act
    const error = await client()
      .getLogStore('app-logs', 'access-log')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(SlsNetworkError);
    expect(classifySlsError(error)).toBeInstanceOf(TransientError);
  });
});
