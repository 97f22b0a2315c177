import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeniedError, InvalidError } from '#core/errors';
import {
  classifyDiskError,
  desireFor,
  evaluateState,
  isTimerEvent,
  parseEvent,
  resourceOf,
} from '../../../../functions/alicloud/disk-default-kms/remediator.ts';
import type { Config } from '../../../../functions/config.ts';

const load = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/alicloud/disk-default-kms/${name}`, import.meta.url), 'utf8'),
  );
const ACCOUNT = '1234567890123456';
const CONFIG: Config = {
  alicloud: {
    diskDefaultKms: {
      kmsKeyId: 'key-default',
      byRegion: { 'cn-beijing': 'key-bj', 'cn-hangzhou': 'key-hz' },
    },
  },
};
const apiError = (status: number, code: string) =>
  Object.assign(new Error(code), {
    code,
    statusCode: status,
    data: { statusCode: status, RequestId: 'rid' },
  });

describe('parseEvent', () => {
  it('targets the region of an EnableDiskEncryptionByDefault call', () => {
    const parsed = parseEvent(load('enable-disk-encryption-by-default.json'), CONFIG, '');

    expect(parsed).toEqual({
      kind: 'targets',
      targets: [
        {
          eventId: '2a4c6e80-1b3d-4f5a-9c7e-0d2f4a6b8c01',
          account: ACCOUNT,
          region: 'cn-hangzhou',
          resource: 'acs:ecs:cn-hangzhou:1234567890123456:disk-default-encryption',
          observedAt: '2026-11-22T09:00:00Z',
        },
      ],
    });
  });

  it('observes a Modify call at its eventTime (a drift after the last completed run is new work)', () => {
    const parsed = parseEvent(load('modify-disk-default-kms-key-id.json'), CONFIG, '');

    expect(parsed.kind === 'targets' && parsed.targets[0]?.observedAt).toBe('2026-11-22T09:30:00Z');
  });

  it('accepts the ebs: type prefix too (the attribution is unconfirmed)', () => {
    const event = load('modify-disk-default-kms-key-id.json');
    event.type = 'ebs:ActionTrail:ApiCall';

    expect(parseEvent(event, CONFIG, '').kind).toBe('targets');
  });

  it('turns a timer tick into one target per configured region, observed at triggerTime', () => {
    const parsed = parseEvent(load('timer.json'), CONFIG, ACCOUNT);

    expect(
      parsed.kind === 'targets' && parsed.targets.map((t) => [t.region, t.observedAt, t.account]),
    ).toEqual([
      ['cn-beijing', '2026-11-22T12:00:00Z', ACCOUNT],
      ['cn-hangzhou', '2026-11-22T12:00:00Z', ACCOUNT],
    ]);
  });

  it('prefers `regions` over the byRegion keys for the timer', () => {
    const config: Config = { alicloud: { diskDefaultKms: { kmsKeyId: 'k', regions: ['ap-southeast-1'] } } };

    const parsed = parseEvent(load('timer.json'), config, ACCOUNT);

    expect(parsed.kind === 'targets' && parsed.targets.map((t) => t.region)).toEqual(['ap-southeast-1']);
  });

  it('ignores a timer tick with nothing to check', () => {
    expect(parseEvent(load('timer.json'), {}, ACCOUNT)).toMatchObject({ kind: 'ignored' });
    expect(
      parseEvent(load('timer.json'), { alicloud: { diskDefaultKms: { kmsKeyId: 'k' } } }, ACCOUNT),
    ).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('no region'),
    });
  });

  it('ignores failed calls and other APIs; rejects junk', () => {
    const failed = load('enable-disk-encryption-by-default.json');
    failed.data.errorCode = 'UserNotInTheWhiteList';
    const other = load('enable-disk-encryption-by-default.json');
    other.data.eventName = 'DescribeDisks';

    expect(parseEvent(failed, CONFIG, '').kind).toBe('ignored');
    expect(parseEvent(other, CONFIG, '').kind).toBe('ignored');
    expect(parseEvent({ triggerTime: 'now', triggerName: 't' }, CONFIG, '')).toMatchObject({
      kind: 'rejected',
    });
    expect(parseEvent([1, 2], CONFIG, '')).toMatchObject({ kind: 'rejected' });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(['targets', 'ignored', 'rejected']).toContain(parseEvent(value, CONFIG, ACCOUNT).kind);
      }),
    );
  });

  it('tells a timer event from a CloudEvent', () => {
    expect(isTimerEvent(load('timer.json'))).toBe(true);
    expect(isTimerEvent(load('modify-disk-default-kms-key-id.json'))).toBe(false);
  });
});

describe('desire and evaluate', () => {
  const target = {
    eventId: 'e',
    account: ACCOUNT,
    region: 'cn-beijing',
    resource: resourceOf('cn-beijing', ACCOUNT),
  };

  it('prefers the per-region key; enableIfDisabled is part of the work key', () => {
    const enabling: Config = { alicloud: { diskDefaultKms: { kmsKeyId: 'k', enableIfDisabled: true } } };

    expect(desireFor(target, CONFIG)).toEqual({
      kind: 'desired',
      desired: { kmsKeyId: 'key-bj', enableIfDisabled: false },
      key: 'key-bj',
    });
    expect(desireFor(target, enabling)).toMatchObject({ key: 'k+enable' });
    expect(desireFor(target, {})).toEqual({ kind: 'off' });
  });

  it.each([
    [{ encrypted: true, kmsKeyId: 'k' }, false, 'compliant'],
    [{ encrypted: true, kmsKeyId: 'other' }, false, 'write'],
    [{ encrypted: true }, false, 'write'],
    [{ encrypted: false }, false, 'excluded'],
    [{ encrypted: false }, true, 'write'],
  ])('%o (enableIfDisabled %s) → %s', (state, enableIfDisabled, kind) => {
    expect(evaluateState(state, { kmsKeyId: 'k', enableIfDisabled }).kind).toBe(kind);
  });

  it('says how to opt in when default encryption is off', () => {
    expect(evaluateState({ encrypted: false }, { kmsKeyId: 'k', enableIfDisabled: false })).toEqual({
      kind: 'excluded',
      reason: 'default disk encryption is off; set enableIfDisabled',
    });
  });
});

describe('classifyDiskError', () => {
  it('never says gone for an account-level setting', () => {
    const classified = classifyDiskError(apiError(403, 'InvalidDefaultEncryption.NotFound'));

    expect(classified).toBeInstanceOf(InvalidError);
    expect(classified.code).toBe('InvalidDefaultEncryption.NotFound');
  });

  it('keeps the documented key and permission codes', () => {
    expect(classifyDiskError(apiError(403, 'InvalidParameter.KMSKeyId.KMSUnauthorized'))).toBeInstanceOf(
      DeniedError,
    );
    expect(classifyDiskError(apiError(403, 'Abs.InvalidAction.RegionNotSupport'))).toBeInstanceOf(
      InvalidError,
    );
  });
});
