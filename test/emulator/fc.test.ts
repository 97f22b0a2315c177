import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type FcEmulator, startFc } from './fc.ts';

let fc: FcEmulator;
let api: AlicloudApi;

const invoke = (name: string, headers: Record<string, string>, body = '{"hello":1}') =>
  api.roa('FC', 'cn-hangzhou', {
    action: 'InvokeFunction',
    method: 'POST',
    pathname: `/2023-03-30/functions/${name}/invocations`,
    headers,
    raw: Buffer.from(body),
    bodyType: 'none',
  });
const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return undefined;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string };
    return { status: e.statusCode, code: e.code };
  }
};

beforeAll(async () => {
  fc = await startFc({ functions: ['atrest-cluster-kms'] });
  api = new AlicloudApi({
    credentials: () => EMULATOR_CREDENTIALS,
    env: { ALIBABA_CLOUD_ENDPOINT_FC: fc.url },
    account: '1234567890123456',
  });
});
afterAll(() => fc.stop());
beforeEach(() => fc.drain());

describe('Function Compute emulator', () => {
  it('records an async invocation with its delay and body, answering 202', async () => {
    const response = await invoke('atrest-cluster-kms', {
      'x-fc-invocation-type': 'Async',
      'x-fc-async-delay': '120',
    });

    const queued = fc.drain();

    expect(response.statusCode).toBe(202);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      functionName: 'atrest-cluster-kms',
      invocationType: 'Async',
      delaySeconds: 120,
      json: { hello: 1 },
    });
    expect(fc.drain()).toEqual([]);
  });

  it('refuses a delay outside 0..3600 seconds', async () => {
    const result = await failure(
      invoke('atrest-cluster-kms', { 'x-fc-invocation-type': 'Async', 'x-fc-async-delay': '3601' }),
    );

    expect(result).toEqual({ status: 400, code: 'InvalidArgument' });
    expect(fc.state.invocations).toHaveLength(0);
  });

  it('answers 404 FunctionNotFound for an unknown function', async () => {
    const result = await failure(invoke('nope', { 'x-fc-invocation-type': 'Async' }));

    expect(result).toEqual({ status: 404, code: 'FunctionNotFound' });
  });
});
