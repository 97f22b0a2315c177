import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  DeniedError,
  InvalidError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import { classifyOtsError } from '../../../functions/alicloud/tablestore-client.ts';

/**
 * What the `tablestore` SDK throws for an error answer: the HTTP status as a number in `code`, the
 * protobuf `Error{code = 1, message = 2}` body decoded as UTF-8 in `message`, plus ` requestId:`.
 */
const answer = (status: number, code: string, text = 'why') =>
  Object.assign(
    new Error(
      `\n${String.fromCharCode(code.length)}${code}\u0012${String.fromCharCode(text.length)}${text} requestId:r-1`,
    ),
    {
      code: status,
      headers: { 'x-ots-requestid': 'ots-rid-1' },
    },
  );

describe('classifyOtsError (Tablestore rows of the client kit table)', () => {
  it.each([
    [409, 'OTSConditionCheckFail', ConflictError],
    [503, 'OTSServerBusy', ThrottledError],
    [403, 'OTSQuotaExhausted', ThrottledError],
    [503, 'OTSTimeout', TransientError],
    [409, 'OTSRowOperationConflict', TransientError],
    [500, 'OTSSomethingNew', TransientError],
    [403, 'OTSAuthFailed', DeniedError],
    [404, 'OTSObjectNotExist', InvalidError],
    [400, 'OTSParameterInvalid', InvalidError],
    [400, 'OTSSomethingNew', UnexpectedError],
  ])('HTTP %i %s → %o, with the code, status and request id', (status, code, kind) => {
    const error = classifyOtsError(answer(status, code), 'PutRow');

    expect(error).toBeInstanceOf(kind);
    expect(error).toMatchObject({ code, status, requestId: 'ots-rid-1', message: `PutRow: ${code}: why` });
  });

  it.each([
    ['NetworkingError', TransientError],
    ['TimeoutError', TransientError],
  ])("the SDK's transport label %s → %o, without a status", (code, kind) => {
    const error = classifyOtsError(Object.assign(new Error('socket hang up'), { code }), 'GetRow');

    expect(error).toBeInstanceOf(kind);
    expect(error).toMatchObject({ code, message: `GetRow: ${code}: socket hang up` });
    expect(error.status).toBeUndefined();
  });

  it('anything else is Unexpected, UnknownError', () => {
    const error = classifyOtsError(new TypeError('boom'));

    expect(error).toBeInstanceOf(UnexpectedError);
    expect(error).toMatchObject({ code: 'UnknownError', message: 'Tablestore: UnknownError: boom' });
  });
});
