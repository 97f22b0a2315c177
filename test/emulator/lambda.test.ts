import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatedService } from './harness.ts';
import { type LambdaState, startLambda } from './lambda.ts';
import { DUMMY_CREDENTIALS } from './sigv4.ts';

let service: EmulatedService;
let state: LambdaState;
const client = (secretAccessKey: string = DUMMY_CREDENTIALS.secretAccessKey) =>
  new LambdaClient({
    region: 'us-east-1',
    endpoint: service.url,
    credentials: { accessKeyId: DUMMY_CREDENTIALS.accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
const text = (payload?: Uint8Array) => Buffer.from(payload ?? []).toString('utf8');

beforeAll(async () => {
  ({ service, state } = await startLambda());
  state.seedFunction('echo', async (event, context) => ({
    got: event,
    left: context.getRemainingTimeInMillis() > 0,
  }));
  state.seedFunction('boom', async () => {
    throw Object.assign(new Error('atrest: 1 outcome(s) not settled: []'), { name: 'UnsettledOutcomeError' });
  });
});
afterAll(() => service.stop());

describe('Lambda emulator (Invoke)', () => {
  it('runs the handler with the payload and a Lambda context, RequestResponse', async () => {
    const out = await client().send(
      new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{"a":1}') }),
    );

    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(text(out.Payload))).toEqual({ got: { a: 1 }, left: true });
  });

  it('answers a throwing handler with FunctionError Unhandled and the error payload', async () => {
    const out = await client().send(new InvokeCommand({ FunctionName: 'boom', Payload: Buffer.from('{}') }));

    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(text(out.Payload))).toMatchObject({
      errorType: 'UnsettledOutcomeError',
      errorMessage: 'atrest: 1 outcome(s) not settled: []',
    });
  });

  it('finds a function by ARN and refuses an unknown one with ResourceNotFoundException', async () => {
    const byArn = await client().send(
      new InvokeCommand({ FunctionName: state.arnOf('echo'), Payload: Buffer.from('{}') }),
    );
    const missing = await client()
      .send(new InvokeCommand({ FunctionName: 'nope', Payload: Buffer.from('{}') }))
      .catch((e: { name: string; $metadata: { httpStatusCode: number } }) => e);

    expect(byArn.StatusCode).toBe(200);
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
  });

  it('refuses a request signed with the wrong secret', async () => {
    const error = await client('wrong-secret')
      .send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{}') }))
      .catch((e: { name: string }) => e);

    expect(error).toMatchObject({ name: 'InvalidSignatureException' });
  });

  it('accepts Event invocations with 202 and DryRun with 204', async () => {
    const event = await client().send(
      new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: Buffer.from('{}') }),
    );
    const dry = await client().send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));

    expect(event.StatusCode).toBe(202);
    expect(dry.StatusCode).toBe(204);
  });
});
