import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import {
  type Acs3Credential,
  Acs3Verifier,
  acs3Encode,
  EMULATOR_CREDENTIALS,
  jsonAnswer,
  roaError,
  rpcError,
  type SignedRequest,
  verifyAcs3,
} from './acs3.ts';
import { type Answer, EmulatedService, type RequestContext, type ServiceHandler } from './harness.ts';

/** Records every request exactly as received, verifies it, answers `{ok:true}`. */
class EchoHandler implements ServiceHandler {
  readonly throttle = { status: 429, code: 'Throttling' };
  readonly seen: SignedRequest[] = [];
  readonly verifier: Acs3Verifier;

  constructor(credentials: Acs3Credential[]) {
    this.verifier = new Acs3Verifier(credentials);
  }
  action(): string {
    return 'Echo';
  }
  isWrite(): boolean {
    return false;
  }
  error(status: number, code: string, message: string, requestId: string): Answer {
    return rpcError(status, code, message, requestId, 'echo.aliyuncs.com');
  }
  handle(ctx: RequestContext): Answer {
    this.seen.push({
      method: ctx.req.method ?? 'GET',
      rawUrl: ctx.req.url ?? '/',
      headers: { ...ctx.req.headers },
      body: ctx.body,
    });
    this.verifier.check(ctx);
    return jsonAnswer(200, { ok: true }, 'req-1');
  }
}

const STS: Acs3Credential = {
  accessKeyId: 'STS.EXAMPLE',
  accessKeySecret: 'sts-secret',
  securityToken: 'token-1',
};
const handler = new EchoHandler([EMULATOR_CREDENTIALS, STS]);
const service = new EmulatedService('echo', handler);
let env: Record<string, string>;

const api = (credentials: Acs3Credential = EMULATOR_CREDENTIALS) =>
  new AlicloudApi({
    credentials: () => ({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      ...(credentials.securityToken ? { securityToken: credentials.securityToken } : {}),
    }),
    env,
  });

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    const e = error as { code?: string; statusCode?: number };
    return `${e.statusCode} ${e.code}`;
  }
};

beforeAll(async () => {
  const url = await service.start();
  env = { ALIBABA_CLOUD_ENDPOINT_ECS: url, ALIBABA_CLOUD_ENDPOINT_CS: url };
});
afterAll(() => service.stop());

describe('ACS3 verification against the real @alicloud/openapi-client', () => {
  it('accepts an RPC call whose query needs RFC 3986 encoding', async () => {
    // Prepare
    const query = { RegionId: 'cn-hangzhou', KMSKeyId: "key with space*+(x)!'~/é" };

    // Act
    const response = await api().rpc('ECS', 'cn-hangzhou', 'ModifyDiskDefaultKMSKeyId', '2014-05-26', query);

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.body).toEqual({ ok: true });
  });

  it('accepts a ROA call with a JSON body and a path parameter', async () => {
    const response = await api().roa('CS', 'cn-hangzhou', {
      action: 'UpdateKMSEncryption',
      method: 'PUT',
      pathname: '/clusters/c0123456789abcdef0123456789abcdef/kms',
      body: { disable_encryption: false, kms_key_id: 'key-hzz6example' },
    });

    expect(response.statusCode).toBe(200);
  });

  it('accepts STS credentials carrying the matching security token', async () => {
    const response = await api(STS).rpc('ECS', 'cn-hangzhou', 'DescribeRegions', '2014-05-26', {});

    expect(response.statusCode).toBe(200);
  });

  it('answers 400 SignatureDoesNotMatch to a signature made with the wrong secret', async () => {
    const wrong = { ...EMULATOR_CREDENTIALS, accessKeySecret: 'not-the-secret' };

    const result = await codeOf(api(wrong).rpc('ECS', 'cn-hangzhou', 'DescribeRegions', '2014-05-26', {}));

    expect(result).toBe('400 SignatureDoesNotMatch');
  });

  it('answers 404 InvalidAccessKeyId.NotFound to an unknown access key', async () => {
    const stranger = { accessKeyId: 'LTAIunknown', accessKeySecret: 'x' };

    const result = await codeOf(api(stranger).rpc('ECS', 'cn-hangzhou', 'DescribeRegions', '2014-05-26', {}));

    expect(result).toBe('404 InvalidAccessKeyId.NotFound');
  });

  it('refuses an STS request whose token does not match', async () => {
    const result = await codeOf(
      api({ ...STS, securityToken: 'token-2' }).rpc(
        'ECS',
        'cn-hangzhou',
        'DescribeRegions',
        '2014-05-26',
        {},
      ),
    );

    expect(result).toBe('400 InvalidSecurityToken.MismatchWithAccessKey');
  });
});

describe('verifyAcs3 on a captured real request', () => {
  const captured = async (): Promise<SignedRequest> => {
    handler.seen.length = 0;
    await api().roa('CS', 'cn-hangzhou', {
      action: 'UpdateKMSEncryption',
      method: 'PUT',
      pathname: '/clusters/c0123456789abcdef0123456789abcdef/kms',
      query: { mode: 'a b' },
      body: { kms_key_id: 'key-1' },
    });
    const request = handler.seen[0];
    if (!request) throw new Error('nothing captured');
    return request;
  };

  it('verifies the request as sent', async () => {
    const request = await captured();

    expect(verifyAcs3(request, [EMULATOR_CREDENTIALS])).toEqual({ ok: true, accessKeyId: 'AKIDEXAMPLE' });
  });

  it.each([
    ['a changed body', (r: SignedRequest) => ({ ...r, body: Buffer.from('{"kms_key_id":"key-2"}') })],
    ['a changed path', (r: SignedRequest) => ({ ...r, rawUrl: r.rawUrl.replace('/kms', '/kmz') })],
    ['a changed query', (r: SignedRequest) => ({ ...r, rawUrl: r.rawUrl.replace('mode=a', 'mode=b') })],
    ['a changed method', (r: SignedRequest) => ({ ...r, method: 'POST' })],
    [
      'a changed signed header',
      (r: SignedRequest) => ({ ...r, headers: { ...r.headers, 'x-acs-action': 'Other' } }),
    ],
    [
      'an added unsigned x-acs header',
      (r: SignedRequest) => ({ ...r, headers: { ...r.headers, 'x-acs-extra': '1' } }),
    ],
  ])('refuses %s', async (_what, tamper) => {
    const request = tamper(await captured());

    const result = verifyAcs3(request, [EMULATOR_CREDENTIALS]);

    expect(result).toMatchObject({ ok: false, status: 400, code: 'SignatureDoesNotMatch' });
  });

  it('refuses a replayed nonce', async () => {
    const request = await captured();
    const nonces = new Set<string>();

    const first = verifyAcs3(request, [EMULATOR_CREDENTIALS], { nonces });
    const second = verifyAcs3(request, [EMULATOR_CREDENTIALS], { nonces });

    expect(first.ok).toBe(true);
    expect(second).toMatchObject({ ok: false, code: 'SignatureNonceUsed' });
  });

  it('refuses a request without an ACS3 Authorization header', async () => {
    const request = await captured();
    const { authorization: _, ...headers } = request.headers;

    const result = verifyAcs3({ ...request, headers }, [EMULATOR_CREDENTIALS]);

    expect(result).toMatchObject({ ok: false, code: 'IncompleteSignature' });
  });
});

describe('helpers', () => {
  it('encodes the RFC 3986 reserved characters encodeURIComponent leaves alone', () => {
    expect(acs3Encode("a b!'()*~")).toBe('a%20b%21%27%28%29%2A~');
  });

  it('formats RPC and ROA errors the way the services do', () => {
    const rpc = rpcError(400, 'Throttling.User', 'slow down', 'rid-1', 'ecs.aliyuncs.com');
    const roa = roaError(404, 'ErrorClusterNotFound', 'gone', 'rid-2');

    expect(JSON.parse(String(rpc.body))).toEqual({
      RequestId: 'rid-1',
      HostId: 'ecs.aliyuncs.com',
      Code: 'Throttling.User',
      Message: 'slow down',
    });
    expect(JSON.parse(String(roa.body))).toEqual({
      code: 'ErrorClusterNotFound',
      message: 'gone',
      requestId: 'rid-2',
    });
    expect(roa.status).toBe(404);
  });
});
