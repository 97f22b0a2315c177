/**
 * A remediator over an in-memory resource table, for engine tests: every I/O path is scriptable
 * (throw on the next N reads or writes, lag the read-back) and every call is counted.
 */

import { logGroupKmsConfig } from '../../functions/aws/log-group-kms/config.ts';
import { unexpected } from '../../functions/core/engine.ts';
import {
  ConflictError,
  DeniedError,
  GoneError,
  NotReadyError,
  type RemediationError,
  ThrottledError,
  TransientError,
} from '../../functions/core/errors.ts';
import type { Remediator, Target } from '../../functions/core/remediator.ts';

export interface FakeResource {
  key?: string;
  ready?: boolean;
  immutable?: boolean;
}

export interface FakeTarget extends Target {
  name: string;
}

export class FakeCloud {
  readonly resources = new Map<string, FakeResource>();
  reads = 0;
  writes = 0;
  readFailures: RemediationError[] = [];
  writeFailures: RemediationError[] = [];
  /** The next N reads after a write still show the old key. */
  lagReads = 0;
}

export const fault = {
  conflict: () => new ConflictError('conflict', { code: 'OperationAbortedException', requestId: 'req-c' }),
  throttled: () => new ThrottledError('slow down', { code: 'ThrottlingException', requestId: 'req-t' }),
  transient: () =>
    new TransientError('boom', { code: 'ServiceUnavailable', status: 503, requestId: 'req-5' }),
  denied: () => new DeniedError('no', { code: 'AccessDeniedException', requestId: 'req-d' }),
  gone: () => new GoneError('gone', { code: 'ResourceNotFoundException', requestId: 'req-g' }),
  notReady: () => new NotReadyError('busy', { code: 'Conflict', status: 409, requestId: 'req-n' }),
};

export function fakeRemediator(
  cloud: FakeCloud,
): Remediator<FakeTarget, string, FakeResource> & { cloud: FakeCloud } {
  return {
    id: 'aws.log-group-kms',
    cloud,
    owns: (event) => typeof event === 'object' && event !== null && 'name' in event,
    parse(event) {
      const e = event as { name?: unknown; id?: unknown; ignore?: boolean; time?: unknown };
      if (e?.ignore) return { kind: 'ignored', reason: 'not ours', eventId: String(e.id ?? '') };
      if (typeof e?.name !== 'string' || e.name === '')
        return { kind: 'rejected', code: 'InvalidEvent', reason: 'name: expected string' };
      return {
        kind: 'targets',
        targets: [
          {
            eventId: String(e.id ?? 'evt'),
            account: '111122223333',
            region: 'us-east-1',
            resource: e.name,
            name: e.name,
            // When it happened: given, else a fixed past moment (so a redelivery is a duplicate).
            observedAt: typeof e.time === 'string' ? e.time : '2026-11-22T10:00:00Z',
          },
        ],
      };
    },
    desire(target, config) {
      const section = logGroupKmsConfig.of(config);
      if (!section) return { kind: 'off' };
      if (section.exclude?.some((p) => new RegExp(p).test(target.name)))
        return { kind: 'excluded', reason: 'pattern' };
      return { kind: 'desired', desired: section.kmsKeyArn, key: section.kmsKeyArn };
    },
    async read(target) {
      cloud.reads += 1;
      const failure = cloud.readFailures.shift();
      if (failure) throw failure;
      const resource = cloud.resources.get(target.name);
      if (!resource) return { kind: 'gone' };
      if (resource.ready === false) return { kind: 'notReady', reason: 'still creating' };
      if (cloud.lagReads > 0) {
        cloud.lagReads -= 1;
        return { kind: 'found', state: { ...resource, key: undefined } };
      }
      return { kind: 'found', state: { ...resource } };
    },
    evaluate(state, desired) {
      if (state.key === desired) return { kind: 'compliant' };
      if (state.immutable && state.key !== undefined)
        return { kind: 'blocked', code: 'EncryptionImmutable', message: 'cannot change' };
      return { kind: 'write' };
    },
    async apply(target, desired) {
      cloud.writes += 1;
      const failure = cloud.writeFailures.shift();
      if (failure) throw failure;
      const resource = cloud.resources.get(target.name);
      if (!resource) throw fault.gone();
      resource.key = desired;
    },
    classify: (error) =>
      error instanceof Error && 'retryable' in error ? (error as RemediationError) : unexpected(error),
  };
}

/** A clock that moves only when slept on: `clock.t` ms, `clock.sleeps` sleeps so far. */
export function virtualClock() {
  const clock = { t: 0, sleeps: 0 };
  return {
    clock,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps += 1;
      clock.t += ms;
    },
  };
}

/** The target a sweep of account 111122223333, us-east-1, makes of resource `name`. */
export const sweepTarget = (name: string): FakeTarget => ({
  eventId: `sweep:${name}`,
  account: '111122223333',
  region: 'us-east-1',
  resource: name,
  name,
});
