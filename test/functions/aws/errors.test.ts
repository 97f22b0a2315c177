import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DeniedError, TransientError, UnexpectedError } from '#core/errors';
import { boundedDynamoClient } from '../../../functions/aws/dynamo.ts';
import { classifyAwsError, isConditionFailed } from '../../../functions/aws/errors.ts';
import { boundedClient } from '../../../functions/aws/http.ts';

/** An SDK v3 service exception as the SDK deserialises it. */
const sdkError = (name: string, status: number) =>
  Object.assign(new Error(`${name} message`), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status, requestId: 'req-9' },
  });

describe('classifyAwsError', () => {
  it.each([
    // STS's query protocol: no `Exception` suffix (AssumeRole into a role that does not trust us).
    ['AccessDenied', DeniedError],
    ['AccessDeniedException', DeniedError],
  ])('%s (HTTP 403) is a denial with the code and request id', (name, kind) => {
    const error = classifyAwsError(sdkError(name, 403));

    expect(error).toBeInstanceOf(kind);
    expect(error).toMatchObject({ code: name, status: 403, requestId: 'req-9' });
  });

  // The one set of Node codes both clouds retry (#core/errors RETRYABLE_NODE_CODES): each row
  // fails if its mapping changes.
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
    // getaddrinfo's "no such name": as in the Alibaba Cloud clients, not retried.
    ['ENOTFOUND', UnexpectedError],
    ['CERT_HAS_EXPIRED', UnexpectedError],
  ])('a transport failure %s → %o', (code, kind) => {
    const error = classifyAwsError(Object.assign(new Error(`getaddrinfo ${code}`), { code }));

    expect(error).toBeInstanceOf(kind);
  });
});

describe('isConditionFailed', () => {
  it("reads the SDK's exception and any error of that name, nothing else", () => {
    const sdk = new ConditionalCheckFailedException({ message: 'no', $metadata: {} });

    expect(isConditionFailed(sdk)).toBe(true);
    expect(
      isConditionFailed(Object.assign(new Error('x'), { name: 'ConditionalCheckFailedException' })),
    ).toBe(true);
    expect(isConditionFailed(sdkError('TransactionCanceledException', 400))).toBe(false);
    expect(isConditionFailed(undefined)).toBe(false);
  });
});

describe('boundedClient (every function-side AWS client)', () => {
  it('hands the constructor its tries and timeouts, and wraps the handler with the deadline', async () => {
    let settings: unknown;
    const client = boundedClient({ deadlineMs: 7_000, maxAttempts: 2 }, (s) => {
      settings = s;
      return new DynamoDBClient({ region: 'us-east-1', ...s });
    });

    expect(settings).toEqual({
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 7_000, throwOnRequestTimeout: true },
    });
    expect(await client.config.maxAttempts()).toBe(2);
    // bounded() puts a wrapper in front of the SDK's own handler (its prototype).
    const handler = client.config.requestHandler as object;
    expect(Object.hasOwn(handler, 'handle')).toBe(true);
  });

  it('defaults to one try: the engine owns retries', async () => {
    const client = boundedClient(
      { deadlineMs: 5_000 },
      (s) => new DynamoDBClient({ region: 'us-east-1', ...s }),
    );

    expect(await client.config.maxAttempts()).toBe(1);
    expect(await boundedDynamoClient(3).config.maxAttempts()).toBe(3);
  });
});
