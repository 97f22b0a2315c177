import { describe, expect, it } from 'vitest';
import { ThrottledError, TransientError, UnexpectedError } from '#core/errors';
import {
  AlicloudServiceError,
  AlicloudTransportError,
  tableClassifier,
} from '../../../functions/alicloud/service-errors.ts';

class DemoServiceError extends AlicloudServiceError {
  override name = 'DemoServiceError';
}
class DemoNetworkError extends AlicloudTransportError {
  override name = 'DemoNetworkError';
}

const classify = tableClassifier(DemoServiceError, DemoNetworkError, [
  { kind: 'throttled', when: ({ status }) => status === 429, advice: '(slow down)' },
  { kind: 'transient', when: ({ status }) => status >= 500 },
]);

describe('tableClassifier (the Alibaba Cloud client kit)', () => {
  it('takes the first matching row, keeping code, status, request id and the advice', () => {
    const error = classify(new DemoServiceError('Busy', 'Put: busy', 429, 'req-1'));

    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toMatchObject({
      code: 'Busy',
      status: 429,
      requestId: 'req-1',
      message: 'Put: busy (slow down)',
    });
  });

  it('maps a service answer no row knows to Unexpected with the service code', () => {
    const error = classify(new DemoServiceError('Odd', 'Put: odd', 418, 'req-2'));

    expect(error).toBeInstanceOf(UnexpectedError);
    expect(error).toMatchObject({ code: 'Odd', status: 418, requestId: 'req-2' });
  });

  it('classifies the client transport error by its network code, and anything else as Unexpected', () => {
    expect(classify(new DemoNetworkError('ECONNRESET', 'reset'))).toBeInstanceOf(TransientError);
    expect(classify(new DemoNetworkError('ENOTFOUND', 'no such host'))).toBeInstanceOf(UnexpectedError);
    // Another client's service error is not this table's to read.
    expect(classify(new AlicloudServiceError('Busy', 'x', 429))).toBeInstanceOf(UnexpectedError);
    expect(classify(new TypeError('boom'))).toMatchObject({ code: 'TypeError' });
  });
});
