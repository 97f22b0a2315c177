import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConflictError,
  DeniedError,
  GoneError,
  InvalidError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import { AlicloudApi, AlicloudNetworkError, classifyAlicloud } from '../../../functions/alicloud/openapi.ts';
import { classifySlsError, SlsNetworkError } from '../../../functions/alicloud/sls.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type EcsEmulator, startEcs } from '../../emulator/ecs.ts';

/** The shape openapi-client 0.4.x throws for an HTTP error answer. */
const apiError = (status: number, code: string, data: Record<string, unknown> = { RequestId: 'rid-1' }) =>
  Object.assign(new Error(`${code}: code: ${status}, msg request id: rid`), {
    code,
    statusCode: status,
    data: { statusCode: status, ...data },
  });

describe('classifyAlicloud', () => {
  it.each([
    [400, 'Throttling.User', ThrottledError],
    [429, 'TooManyRequests', ThrottledError],
    [503, 'ServiceUnavailable', TransientError],
    [500, 'InternalError', TransientError],
    [404, 'ErrorClusterNotFound', GoneError],
    [400, 'InvalidClusterId.NotFound', GoneError],
    [404, 'InvalidAccessKeyId.NotFound', DeniedError],
    [403, 'ForbiddenUpdateKMSState', DeniedError],
    [403, 'Forbidden.RAM', DeniedError],
    [403, 'NoPermission', DeniedError],
    [403, 'UserNotInTheWhiteList', DeniedError],
    [403, 'InvalidParameter.KMSKeyId.KMSUnauthorized', DeniedError],
    [400, 'SignatureDoesNotMatch', DeniedError],
    [400, 'InvalidParameter.KMSKeyId.CMKNotEnabled', InvalidError],
    [403, 'InvalidOperation.KMSKeyIdNotFound', InvalidError],
    [400, 'MissingKMSKeyId', InvalidError],
    [403, 'SomethingElse', DeniedError],
    [409, 'OperationConflict', ConflictError],
    [400, 'OperationConflict', ConflictError],
    [403, 'IncorrectStatus.ConcurrentUpdate', ConflictError],
  ])('HTTP %i %s → %o', (status, code, kind) => {
    const classified = classifyAlicloud(apiError(status, code));

    expect(classified).toBeInstanceOf(kind);
    expect(classified.code).toBe(code);
    expect(classified.status).toBe(status);
    expect(classified.requestId).toBe('rid-1');
  });

  it('reads the request id from a ROA body (requestId)', () => {
    const error = apiError(404, 'ErrorClusterNotFound', { requestId: 'roa-rid' });

    expect(classifyAlicloud(error).requestId).toBe('roa-rid');
  });

  it('treats a body without a code ("undefined" from the client) by its status, named as our client names it', () => {
    const classified = classifyAlicloud(apiError(502, 'undefined'));

    expect(classified).toBeInstanceOf(TransientError);
    expect(classified.code).toBe('BadGateway');
  });

  // One set of network codes for every Alibaba Cloud client (http.ts RETRYABLE_NETWORK): each row
  // fails if its mapping changes, through the OpenAPI client's error, a bare Node error (the CLI's
  // fc2 path) and the SLS client's error alike.
  it.each([
    ['ECONNRESET', TransientError],
    ['ECONNREFUSED', TransientError],
    ['ECONNABORTED', TransientError],
    ['ETIMEDOUT', TransientError],
    ['EPIPE', TransientError],
    ['EHOSTUNREACH', TransientError],
    ['ENETUNREACH', TransientError],
    ['ENETDOWN', TransientError],
    ['EAI_AGAIN', TransientError],
    ['RequestTimeout', TransientError],
    ['ResponseTooLarge', TransientError],
    // The tablestore SDK's labels (it overwrites Node's code).
    ['NetworkingError', TransientError],
    ['TimeoutError', TransientError],
    // getaddrinfo EAI_NONAME / EAI_NODATA: the name does not exist; another try meets the cached answer.
    ['ENOTFOUND', UnexpectedError],
    // Not produced by node:http (the `request` library's, undici's): nothing to retry on.
    ['ESOCKETTIMEDOUT', UnexpectedError],
    ['UND_ERR_SOCKET', UnexpectedError],
    ['CERT_HAS_EXPIRED', UnexpectedError],
  ])('network code %s → %o, in every Alibaba Cloud client', (code, kind) => {
    const own = classifyAlicloud(new AlicloudNetworkError(code, `DescribeX: ${code}`));
    const node = classifyAlicloud(Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect' }));
    const sls = classifySlsError(new SlsNetworkError(code, `GetLogStore: ${code}`));

    for (const classified of [own, node, sls]) {
      expect(classified).toBeInstanceOf(kind);
      expect(classified.code).toBe(code);
    }
  });

  it('never reads the message: "socket hang up" without a code is Unexpected', () => {
    const classified = classifyAlicloud(new Error('socket hang up'));

    expect(classified).toBeInstanceOf(UnexpectedError);
  });

  it("classifies another SDK's service error by its code alone (fc2: a code, no status)", () => {
    const fc2 = (code: string) =>
      Object.assign(new Error(`POST /invocations failed with 403`), { name: `FC${code}Error`, code });

    expect(classifyAlicloud(fc2('Forbidden.RAM'))).toBeInstanceOf(DeniedError);
    expect(classifyAlicloud(fc2('Throttling.User'))).toBeInstanceOf(ThrottledError);
    const unknown = classifyAlicloud(fc2('AccessDenied'));
    expect(unknown).toBeInstanceOf(UnexpectedError);
    expect(unknown.code).toBe('AccessDenied');
    expect(unknown.status).toBeUndefined();
  });

  it('keeps an already typed error and makes anything else Unexpected', () => {
    const typed = new GoneError('gone', { code: 'X' });

    expect(classifyAlicloud(typed)).toBe(typed);
    expect(classifyAlicloud(new TypeError('boom'))).toBeInstanceOf(UnexpectedError);
    expect(classifyAlicloud(new TypeError('boom')).code).toBe('TypeError');
  });
});

describe('AlicloudApi against the emulator', () => {
  let ecs: EcsEmulator;
  let credentialsAsked = 0;
  let api: AlicloudApi;

  beforeAll(async () => {
    ecs = await startEcs();
    api = new AlicloudApi({
      credentials: () => {
        credentialsAsked += 1;
        return EMULATOR_CREDENTIALS;
      },
      env: { ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url },
    });
  });
  afterAll(() => ecs.stop());

  it('asks the credentials provider on every request (rotating STS credentials)', async () => {
    const before = credentialsAsked;

    await api.rpc('ECS', 'cn-hangzhou', 'DescribeDiskEncryptionByDefaultStatus', '2014-05-26', {
      RegionId: 'cn-hangzhou',
    });
    await api.rpc('ECS', 'cn-hangzhou', 'DescribeDiskEncryptionByDefaultStatus', '2014-05-26', {
      RegionId: 'cn-hangzhou',
    });

    expect(credentialsAsked - before).toBeGreaterThanOrEqual(2);
  });

  it('does not retry by itself: one injected 503 is one failed call', async () => {
    ecs.service.resetLog();
    ecs.service.failNext('DescribeDiskEncryptionByDefaultStatus', {
      status: 503,
      code: 'ServiceUnavailable',
      times: 1,
    });

    const error = await api
      .rpc('ECS', 'cn-hangzhou', 'DescribeDiskEncryptionByDefaultStatus', '2014-05-26', {
        RegionId: 'cn-hangzhou',
      })
      .catch((e: unknown) => e);

    expect(classifyAlicloud(error)).toBeInstanceOf(TransientError);
    expect(ecs.service.count({ action: 'DescribeDiskEncryptionByDefaultStatus' })).toBe(1);
  });

  it('classifies a reset connection as transient', async () => {
    ecs.service.failNext('DescribeDiskEncryptionByDefaultStatus', {
      status: 0,
      code: 'reset',
      times: 1,
      transport: 'reset',
    });

    const error = await api
      .rpc('ECS', 'cn-hangzhou', 'DescribeDiskEncryptionByDefaultStatus', '2014-05-26', {
        RegionId: 'cn-hangzhou',
      })
      .catch((e: unknown) => e);

    expect(classifyAlicloud(error)).toBeInstanceOf(TransientError);
  });

  it('refuses a malformed region before any request is built', async () => {
    const plain = new AlicloudApi({ credentials: () => EMULATOR_CREDENTIALS, env: {} });

    await expect(plain.rpc('ECS', 'evil.example.com/', 'X', '2014-05-26', {})).rejects.toMatchObject({
      name: 'ConfigError',
    });
  });
});
