import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeniedError, NotReadyError, ThrottledError } from '#core/errors';
import {
  CLUSTER_ID,
  type ClusterState,
  classifyClusterError,
  clusterStateFrom,
  desireFor,
  evaluateState,
  observe,
  parseEvent,
} from '../../../../functions/alicloud/cluster-kms/remediator.ts';
import type { Config } from '../../../../functions/config.ts';

const load = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/alicloud/cluster-kms/${name}`, import.meta.url), 'utf8'),
  );
const ID = 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b';
const pro = (over: Partial<ClusterState> = {}): ClusterState => ({
  lifecycle: 'running',
  clusterType: 'ManagedKubernetes',
  clusterSpec: 'ack.pro.small',
  disableEncryption: false,
  ...over,
});
const apiError = (status: number, code: string) =>
  Object.assign(new Error(code), {
    code,
    statusCode: status,
    data: { statusCode: status, requestId: 'rid' },
  });

describe('parseEvent', () => {
  it('names the cluster of the sample CreateCluster event', () => {
    const parsed = parseEvent(load('create-cluster.json'));

    expect(parsed).toEqual({
      kind: 'targets',
      targets: [
        {
          eventId: '8f2d6c1e-4b7a-4c3e-9d21-6a5b0e7f3c11',
          account: '1234567890123456',
          region: 'cn-hangzhou',
          resource: ID,
          // the ActionTrail call id: every delivery of this creation is the same work
          observedAt: '2026-11-22T08:00:03Z',
          clusterId: ID,
          clusterName: 'prod-payments',
        },
      ],
    });
  });

  it('falls back to referencedResources when responseElements has no id', () => {
    const event = load('create-cluster.json');
    event.data.responseElements = { request_id: 'r' };

    const parsed = parseEvent(event);

    expect(parsed.kind === 'targets' && parsed.targets[0]?.clusterId).toBe(ID);
  });

  it.each(['ACS::ACK::Cluster', 'ACS::CS::Cluster'])(
    'reads the cluster id from referencedResources["%s"] when responseElements has none',
    (type) => {
      const event = load('create-cluster.json');
      event.data.responseElements = null;
      event.data.referencedResources = { [type]: [ID] };

      const parsed = parseEvent(event);

      expect(parsed.kind === 'targets' && parsed.targets[0]?.clusterId).toBe(ID);
    },
  );

  it('ignores a failed CreateCluster call', () => {
    expect(parseEvent(load('create-cluster-failed.json'))).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('QuotaExceeded.Cluster'),
    });
  });

  it('ignores other API calls', () => {
    const event = load('create-cluster.json');
    event.data.eventName = 'DeleteCluster';

    expect(parseEvent(event).kind).toBe('ignored');
  });

  it('rejects an event naming no cluster, or a malformed id', () => {
    const missing = load('create-cluster.json');
    missing.data.responseElements = {};
    missing.data.referencedResources = {};
    const bad = load('create-cluster.json');
    bad.data.responseElements.cluster_id = 'c../../kms';

    expect(parseEvent(missing)).toMatchObject({ kind: 'rejected', code: 'MissingClusterId' });
    expect(parseEvent(bad)).toMatchObject({ kind: 'rejected', code: 'InvalidClusterId' });
  });

  it('rejects what is not a CloudEvent', () => {
    expect(parseEvent({ hello: 'world' })).toMatchObject({ kind: 'rejected', code: 'InvalidEvent' });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(['targets', 'ignored', 'rejected']).toContain(parseEvent(value).kind);
      }),
    );
  });

  it('accepts only c + 32 hex digits as a cluster id', () => {
    expect(CLUSTER_ID.test(ID)).toBe(true);
    expect(CLUSTER_ID.test('C3F1E8A6B2C4D4E5F9A0B1C2D3E4F5A6B')).toBe(false);
    expect(CLUSTER_ID.test(`${ID}0`)).toBe(false);
  });
});

describe('desireFor', () => {
  const target = {
    eventId: 'e',
    account: 'a',
    region: 'cn-beijing',
    resource: ID,
    clusterId: ID,
    clusterName: 'sandbox-1',
  };

  it('prefers the per-region key and is off without a section', () => {
    const config: Config = {
      alicloud: { clusterKms: { kmsKeyId: 'key-default', byRegion: { 'cn-beijing': 'key-bj' } } },
    };

    expect(desireFor(target, config)).toEqual({
      kind: 'desired',
      desired: { kmsKeyId: 'key-bj' },
      key: 'key-bj',
    });
    expect(desireFor(target, {})).toEqual({ kind: 'off' });
  });

  it('excludes by cluster name or id', () => {
    const config: Config = { alicloud: { clusterKms: { kmsKeyId: 'k', exclude: ['^sandbox-'] } } };

    expect(desireFor(target, config)).toMatchObject({
      kind: 'excluded',
      reason: expect.stringContaining('sandbox-1'),
    });
  });
});

describe('reading a cluster', () => {
  it('takes the key from meta_data Capabilities', () => {
    const body = {
      state: 'running',
      cluster_type: 'ManagedKubernetes',
      cluster_spec: 'ack.pro.small',
      meta_data: JSON.stringify({ Capabilities: { EncryptionKMSKeyId: 'key-1', DisableEncryption: false } }),
    };

    expect(clusterStateFrom(body)).toEqual(pro({ kmsKeyId: 'key-1' }));
  });

  it('reads malformed meta_data as "no key"', () => {
    expect(
      clusterStateFrom({ state: 'running', cluster_type: 'ManagedKubernetes', meta_data: '{oops' }),
    ).toEqual({
      lifecycle: 'running',
      clusterType: 'ManagedKubernetes',
      disableEncryption: false,
    });
  });

  it.each([
    ['initial', 'notReady'],
    ['waiting', 'notReady'],
    ['upgrading', 'notReady'],
    ['scaling', 'notReady'],
    ['running', 'found'],
    ['updating', 'found'],
    ['failed', 'found'],
    ['delete_failed', 'found'],
    ['deleting', 'gone'],
    ['deleted', 'gone'],
  ])('a Pro cluster in state %s is %s', (lifecycle, kind) => {
    expect(observe(pro({ lifecycle })).kind).toBe(kind);
  });

  it('reads a non-Pro cluster as found even while initial (it will be excluded, not waited for)', () => {
    expect(observe(pro({ lifecycle: 'initial', clusterSpec: 'ack.standard' })).kind).toBe('found');
  });
});

describe('evaluateState', () => {
  const want = { kmsKeyId: 'key-1' };

  it.each([
    [pro({ kmsKeyId: 'key-1' }), 'compliant'],
    [pro(), 'write'],
    [pro({ kmsKeyId: 'key-0' }), 'write'],
    [pro({ kmsKeyId: 'key-1', disableEncryption: true }), 'write'],
    [pro({ clusterSpec: 'ack.standard' }), 'excluded'],
    [pro({ clusterType: 'Kubernetes', clusterSpec: undefined }), 'excluded'],
    [pro({ lifecycle: 'failed' }), 'blocked'],
  ])('%o → %s', (state, kind) => {
    expect(evaluateState(state, want).kind).toBe(kind);
  });

  it('says why a non-Pro cluster is excluded', () => {
    expect(evaluateState(pro({ clusterSpec: 'ack.standard' }), want)).toMatchObject({
      reason: expect.stringContaining('secret encryption needs ACK Pro'),
    });
  });
});

describe('classifyClusterError', () => {
  it('makes a 409 "not ready" (deferred), not a conflict to hammer or a failure', () => {
    const classified = classifyClusterError(apiError(409, 'OperationConflict'));

    expect(classified).toBeInstanceOf(NotReadyError);
    expect(classified.code).toBe('OperationConflict');
  });

  it('makes ForbiddenUpdateKMSState denied and defers the rest to the generic mapping', () => {
    expect(classifyClusterError(apiError(403, 'ForbiddenUpdateKMSState'))).toBeInstanceOf(DeniedError);
    expect(classifyClusterError(apiError(429, 'Throttling.User'))).toBeInstanceOf(ThrottledError);
  });
});
