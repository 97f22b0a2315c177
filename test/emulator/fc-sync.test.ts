import FC from '@alicloud/fc2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type FcSyncEmulator, startFcSync } from './fc-sync.ts';

let fc: FcSyncEmulator;
const api = () =>
  new AlicloudApi({ credentials: () => EMULATOR_CREDENTIALS, env: { ALIBABA_CLOUD_ENDPOINT_FC: fc.url } });
const invoke3 = (name: string, body: unknown) =>
  api().roa('FC', 'cn-hangzhou', {
    action: 'InvokeFunction',
    method: 'POST',
    pathname: `/2023-03-30/functions/${name}/invocations`,
    headers: { 'x-fc-invocation-type': 'Sync' },
    raw: Buffer.from(JSON.stringify(body)),
    bodyType: 'none',
  });
const fc2 = (secret = EMULATOR_CREDENTIALS.accessKeySecret) =>
  new FC('1234567890123456', {
    accessKeyID: EMULATOR_CREDENTIALS.accessKeyId,
    accessKeySecret: secret,
    region: 'cn-hangzhou',
    endpoint: fc.url,
  });

beforeAll(async () => {
  fc = await startFcSync();
  fc.state.seedFunction(
    'echo',
    (event, context) => ({ got: JSON.parse(event.toString('utf8')), fn: context.function.name }),
    {
      service: 'svc',
    },
  );
  fc.state.seedFunction('boom', () => {
    throw new TypeError('bad things');
  });
});
afterAll(() => fc.stop());

describe('FC sync emulator', () => {
  it('runs an FC 3.0 function synchronously on a Buffer and answers its return value', async () => {
    const res = await invoke3('echo', { a: 1 });

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(String(res.body))).toEqual({ got: { a: 1 }, fn: 'echo' });
  });

  it('answers a throwing handler with x-fc-error-type UnhandledInvocationError', async () => {
    const res = await invoke3('boom', {});

    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(JSON.parse(String(res.body))).toMatchObject({
      errorType: 'TypeError',
      errorMessage: 'bad things',
    });
  });

  it('serves FC 2.0 invocations of a service function through @alicloud/fc2, signature checked', async () => {
    const ok = await fc2().invokeFunction('svc', 'echo', '{"b":2}');
    const bad = await fc2('wrong')
      .invokeFunction('svc', 'echo', '{}')
      .catch((e: { code?: string }) => e);
    const missing = await fc2()
      .invokeFunction('other', 'echo', '{}')
      .catch((e: { code?: string }) => e);

    expect(ok.data).toEqual({ got: { b: 2 }, fn: 'echo' });
    expect(bad).toMatchObject({ code: 'SignatureNotMatch' });
    expect(missing).toMatchObject({ code: 'FunctionNotFound' });
  });

  it('refuses an FC 3.0 call signed with the wrong secret', async () => {
    const error = await new AlicloudApi({
      credentials: () => ({ ...EMULATOR_CREDENTIALS, accessKeySecret: 'wrong' }),
      env: { ALIBABA_CLOUD_ENDPOINT_FC: fc.url },
    })
      .roa('FC', 'cn-hangzhou', {
        action: 'InvokeFunction',
        method: 'POST',
        pathname: '/2023-03-30/functions/echo/invocations',
        raw: Buffer.from('{}'),
        bodyType: 'none',
      })
      .catch((e: { code?: string }) => e);

    expect(error).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });
});
