import { readFileSync } from 'node:fs';
import {
  AccessDeniedException,
  InvalidParameterException,
  OperationAbortedException,
  ResourceNotFoundException,
  ServiceUnavailableException,
} from '@aws-sdk/client-cloudwatch-logs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  DeniedError,
  GoneError,
  InvalidError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import {
  createRemediator,
  desireFor,
  evaluateState,
  FUNCTION_ID,
  type LogGroupTarget,
  logGroupArn,
  ownsEvent,
  parseEvent,
  partitionOf,
} from '../../../../functions/aws/log-group-kms/remediator.ts';
import { parseConfig } from '../../../../functions/config.ts';

/** A sample event as JSON, edited field by field in the tests. */
// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON on purpose.
type EventJson = Record<string, any>;

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/aws/log-group-kms/${name}.json`, import.meta.url), 'utf8'),
  );

const KEY_US = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_EU = 'arn:aws:kms:eu-west-1:111122223333:key/5678abcd-12ab-34cd-56ef-1234567890ab';

const config = parseConfig({
  aws: {
    logGroupKms: { kmsKeyArn: KEY_US, byRegion: { 'eu-west-1': KEY_EU }, exclude: ['^/aws/lambda/atrest-'] },
  },
});

const target = (over: Partial<LogGroupTarget> = {}): LogGroupTarget => ({
  eventId: 'e-1',
  account: '111122223333',
  region: 'us-east-1',
  resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/x',
  logGroupName: '/app/x',
  ...over,
});

/** A deep copy of a fixture with one path changed. */
const variant = (name: string, edit: (e: EventJson) => void): Record<string, unknown> => {
  const event = structuredClone(fixture(name)) as EventJson;
  edit(event);
  return event;
};

describe('parse: the sample events', () => {
  it('turns an IAM user CreateLogGroup into one target named by its ARN', () => {
    const parsed = parseEvent(fixture('create-log-group'));

    expect(parsed).toEqual({
      kind: 'targets',
      targets: [
        {
          eventId: '6f1c2a8e-3b7d-4f0a-9c51-2d8e7b4a1f90',
          account: '111122223333',
          region: 'us-east-1',
          resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/orders/api',
          logGroupName: '/app/orders/api',
          // CloudTrail's id of the creating call: redeliveries share it, a re-creation does not
          observedAt: '2026-11-22T09:14:07Z',
        },
      ],
    });
  });

  it('accepts a group created by a service through its service-linked role (eventVersion 1.11)', () => {
    const parsed = parseEvent(fixture('create-log-group-by-service'));

    expect(parsed.kind === 'targets' && parsed.targets[0]?.logGroupName).toBe(
      '/aws/rds/instance/orders-db/postgresql',
    );
  });

  it('notes the key the creator passed, but still targets the group (state is read, not trusted)', () => {
    const parsed = parseEvent(fixture('create-log-group-with-kms-key'));

    expect(parsed.kind === 'targets' && parsed.targets[0]?.requestedKmsKeyId).toBe(KEY_US);
  });

  it('ignores a failed CreateLogGroup and says why', () => {
    const parsed = parseEvent(fixture('create-log-group-failed'));

    expect(parsed).toMatchObject({ kind: 'ignored', eventId: 'e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9' });
    expect(parsed.kind === 'ignored' && parsed.reason).toContain('ResourceAlreadyExistsException');
  });

  it('is owned by this function (routing)', () => {
    expect(ownsEvent(fixture('create-log-group'))).toBe(true);
    expect(ownsEvent({ source: 'aws.s3', 'detail-type': 'AWS API Call via CloudTrail' })).toBe(false);
    expect(createRemediator().id).toBe(FUNCTION_ID);
  });
});

describe('parse: events this function does not act on', () => {
  it.each([
    ['another CloudWatch Logs API', (e: EventJson) => (e.detail.eventName = 'DeleteLogGroup')],
    ['another event source', (e: EventJson) => (e.detail.eventSource = 's3.amazonaws.com')],
    ['another EventBridge source', (e: EventJson) => (e.source = 'aws.s3')],
    ['another detail-type', (e: EventJson) => (e['detail-type'] = 'AWS Service Event via CloudTrail')],
  ])('ignores %s', (_what, edit) => {
    const parsed = parseEvent(variant('create-log-group', edit));

    expect(parsed.kind).toBe('ignored');
  });
});

describe('parse: region, account and partition', () => {
  it('takes the account from recipientAccountId when the envelope has none', () => {
    const parsed = parseEvent(
      variant('create-log-group', (e) => {
        delete e.account;
        e.detail.recipientAccountId = '444455556666';
      }),
    );

    expect(parsed.kind === 'targets' && parsed.targets[0]?.account).toBe('444455556666');
  });

  it('prefers detail.awsRegion over the envelope region', () => {
    const parsed = parseEvent(variant('create-log-group', (e) => (e.detail.awsRegion = 'eu-west-1')));

    expect(parsed.kind === 'targets' && parsed.targets[0]?.resource).toBe(
      'arn:aws:logs:eu-west-1:111122223333:log-group:/app/orders/api',
    );
  });

  it.each([
    ['us-east-1', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'],
  ])('puts %s in partition %s', (region, partition) => {
    expect(partitionOf(region)).toBe(partition);
    expect(logGroupArn(region, '111122223333', '/x')).toBe(
      `arn:${partition}:logs:${region}:111122223333:log-group:/x`,
    );
  });

  it('rejects an event with neither an account nor a recipientAccountId', () => {
    const parsed = parseEvent(
      variant('create-log-group', (e) => {
        delete e.account;
        delete e.detail.recipientAccountId;
      }),
    );

    expect(parsed).toMatchObject({ kind: 'rejected', code: 'InvalidEvent' });
  });
});

describe('parse: malformed events are rejected, never thrown', () => {
  it.each([
    ['a truncated JSON string', '{"version":"0","id":"6f1c2a8e","detail-type":"AWS API Ca'],
    ['null', null],
    ['an array', [fixture('create-log-group')]],
    ['10 KB of garbage', 'x'.repeat(10 * 1024)],
    ['a garbage object', { junk: 'y'.repeat(10 * 1024) }],
  ])('rejects %s', (_what, event) => {
    const parsed = parseEvent(event);

    expect(parsed).toMatchObject({ kind: 'rejected', code: 'InvalidEvent' });
    expect(parsed.kind === 'rejected' && parsed.reason.length).toBeLessThan(600);
  });

  it.each([
    ['eventName is a number', (e: EventJson) => (e.detail.eventName = 42), 'event.detail.eventName'],
    ['the account is not 12 digits', (e: EventJson) => (e.account = '1234'), 'event.account'],
    ['the region is not a region', (e: EventJson) => (e.region = 'us east 1'), 'event.region'],
    ['detail is a string', (e: EventJson) => (e.detail = 'CreateLogGroup'), 'event.detail'],
  ])('rejects an event whose %s, naming the field', (_what, edit, path) => {
    const parsed = parseEvent(variant('create-log-group', edit));

    expect(parsed.kind).toBe('rejected');
    expect(parsed.kind === 'rejected' && parsed.reason).toContain(path);
  });

  it.each([
    ['a space', '/app/orders api'],
    ['a colon', 'arn:like:name'],
    ['an empty name', ''],
    ['513 characters', `/${'a'.repeat(512)}`],
  ])('rejects a log group name with %s', (_what, name) => {
    const parsed = parseEvent(
      variant('create-log-group', (e) => (e.detail.requestParameters.logGroupName = name)),
    );

    expect(parsed).toMatchObject({
      kind: 'rejected',
      code: 'InvalidEvent',
      eventId: '6f1c2a8e-3b7d-4f0a-9c51-2d8e7b4a1f90',
    });
    expect(parsed.kind === 'rejected' && parsed.reason).toContain(
      'event.detail.requestParameters.logGroupName',
    );
  });

  it('accepts a 512-character name (the service maximum)', () => {
    const name = `/${'a'.repeat(511)}`;

    const parsed = parseEvent(
      variant('create-log-group', (e) => (e.detail.requestParameters.logGroupName = name)),
    );

    expect(parsed.kind).toBe('targets');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const parsed = parseEvent(value);
        return parsed.kind === 'rejected' || parsed.kind === 'ignored' || parsed.kind === 'targets';
      }),
      { numRuns: 300 },
    );
  });
});

describe('desire', () => {
  it('is off without an aws.logGroupKms section', () => {
    expect(desireFor(target(), parseConfig({}))).toEqual({ kind: 'off' });
  });

  it('excludes a name matching an exclude pattern and names the pattern', () => {
    const desire = desireFor(target({ logGroupName: '/aws/lambda/atrest-log-group-kms' }), config);

    expect(desire.kind).toBe('excluded');
    expect(desire.kind === 'excluded' && desire.reason).toContain('"^/aws/lambda/atrest-"');
  });

  it('wants the default key in its own region', () => {
    expect(desireFor(target(), config)).toEqual({ kind: 'desired', desired: KEY_US, key: KEY_US });
  });

  it('wants the byRegion key where one is configured', () => {
    expect(desireFor(target({ region: 'eu-west-1' }), config)).toMatchObject({
      kind: 'desired',
      desired: KEY_EU,
    });
  });

  it('excludes a region whose only candidate key lives in another region (a KMS key is regional)', () => {
    expect(desireFor(target({ region: 'ap-southeast-2' }), config)).toEqual({
      kind: 'excluded',
      reason: 'no key for region ap-southeast-2; set aws.logGroupKms.byRegion.ap-southeast-2',
    });
  });
});

describe('evaluate', () => {
  it('is compliant with exactly the configured key', () => {
    expect(evaluateState({ kmsKeyId: KEY_US }, KEY_US)).toEqual({ kind: 'compliant' });
  });

  it('writes when the group has no key', () => {
    expect(evaluateState({}, KEY_US)).toEqual({ kind: 'write' });
  });

  it('writes (overrides) when the group has a different key', () => {
    expect(evaluateState({ kmsKeyId: KEY_EU }, KEY_US)).toEqual({ kind: 'write' });
  });
});

describe('classify', () => {
  const classify = createRemediator().classify;
  const meta = { httpStatusCode: 400, requestId: 'req-123' };

  it.each([
    [
      'OperationAbortedException',
      () => new OperationAbortedException({ message: 'conflict', $metadata: meta }),
      ConflictError,
    ],
    [
      'AccessDeniedException',
      () => new AccessDeniedException({ message: 'denied', $metadata: meta }),
      DeniedError,
    ],
    [
      'InvalidParameterException',
      () => new InvalidParameterException({ message: 'bad key', $metadata: meta }),
      InvalidError,
    ],
    [
      'ResourceNotFoundException',
      () => new ResourceNotFoundException({ message: 'gone', $metadata: meta }),
      GoneError,
    ],
    [
      'ServiceUnavailableException',
      () => new ServiceUnavailableException({ message: 'down', $metadata: { ...meta, httpStatusCode: 503 } }),
      TransientError,
    ],
  ])('maps %s, keeping the code and request id', (code, make, type) => {
    const error = classify(make());

    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ code, requestId: 'req-123' });
  });

  it.each([
    ['ThrottlingException', 400, ThrottledError],
    ['LimitExceededException', 400, ThrottledError],
    ['TooManyRequestsException', 429, ThrottledError],
    ['ValidationException', 400, InvalidError],
    ['InternalFailure', 500, TransientError],
    ['SomethingNew', 502, TransientError],
    ['SomethingNew', 400, UnexpectedError],
  ] as const)('maps %s (HTTP %i)', (name, status, type) => {
    const thrown = Object.assign(new Error('x'), {
      name,
      $metadata: { httpStatusCode: status, requestId: 'r' },
    });

    const error = classify(thrown);

    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(name);
    expect(error.status).toBe(status);
  });

  it.each([
    ['a socket timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'TimeoutError'],
    [
      'a connection reset ("socket hang up")',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      'ECONNRESET',
    ],
    [
      'a refused connection',
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED', $metadata: { attempts: 1 } }),
      'ECONNREFUSED',
    ],
  ])('treats %s as transient', (_what, thrown, code) => {
    const error = classify(thrown);

    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe(code);
  });

  it('keeps anything else as UnexpectedError with its name', () => {
    const error = classify(new TypeError('boom'));

    expect(error).toBeInstanceOf(UnexpectedError);
    expect(error.code).toBe('TypeError');
  });
});
