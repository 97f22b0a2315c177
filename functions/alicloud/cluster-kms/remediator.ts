/**
 * alicloud.cluster-kms — every new ACK Pro cluster gets Secret encryption at rest with the
 * configured KMS key.
 *
 * Trigger: ActionTrail `CreateCluster` (API call, console operation — ACK Pro clusters are mostly
 * bought in the console — or service event; the names, and the buy page's `Create` alias, are in
 * events.ts), as an EventBridge CloudEvent (`cs:ActionTrail:<eventType>`), a bare trail record, or
 * a record of an SLS-trigger range on the trail path; also the same event re-queued by the FC
 * adapter while the cluster is not ready.
 * Tamper event (`enforce: "always"`, the default): `UpdateKMSEncryption` with
 * `disable_encryption: true` or another key restores the configured key, at most
 * `maxRestoresPerHour` times an hour; one that sets the configured key (atrest's own write) ends
 * `ignored` without a read.
 * Reads: ACK `DescribeClusterDetail` (`GET /clusters/{id}`): `state`, `cluster_type`,
 * `cluster_spec`, and the key from `meta_data` (a JSON string) → Capabilities.EncryptionKMSKeyId /
 * DisableEncryption (there is no top-level field; the Terraform provider reads it the same way).
 * Writes: ACK `UpdateKMSEncryption` (`PUT /clusters/{id}/kms`). Sweep: `DescribeClustersV1`.
 *
 * Resource id: the cluster id (`c` + 32 hex digits).
 *
 * Lifecycle decisions:
 * - `initial`, `waiting`, `updating`*, `upgrading`, `scaling`, `removing`, `draining`, `inactive`,
 *   `unavailable`, `disconnected` → not ready: `deferred`, re-queued by fc.ts until the deadline.
 *   (*`updating` is read as found: right after our own write the cluster is `updating` and the
 *   read-back must be able to confirm the key; with another key it is written, and ACK answers 409.)
 * - `deleting`, `deleted`, HTTP 404 → `gone`.
 * - `failed` (creation failed) and `delete_failed` → `failed` without a write (code
 *   `ClusterStateFailed`): the cluster exists and keeps unencrypted Secrets, yet neither waiting nor
 *   writing can help, so it must reach a human through the dead letter instead of being re-queued
 *   for two hours or reported as if it were gone.
 * - HTTP 409 from UpdateKMSEncryption (a repeat within 5 minutes, or the cluster is busy) →
 *   NotReadyError → `deferred`, not a failure.
 * Secret encryption exists only on ACK Pro (ManagedKubernetes + `ack.pro.*`): others are `excluded`.
 */
import * as z from 'zod/mini';
import type { Config } from '#core/config';
import { excludedBy } from '#core/config';
import { InvalidError, NotReadyError, type RemediationError } from '#core/errors';
import { once } from '#core/once';
import type {
  Desire,
  EventFacts,
  ListPage,
  Observed,
  Parsed,
  Remediator,
  Target,
  Verdict,
} from '#core/remediator';
import { listAll } from '#core/sweep';
import { setsConfiguredState, tamperOf } from '#core/tamper';
import { withObservedAt } from '#core/validation';
import { type AlicloudCredentials, credentialsFrom } from '../clients.ts';
import { type ActionTrailCloudEvent, isActionTrailCall, parseTrailCall, pick } from '../events.ts';
import { type AlicloudApi, answerOf, classifyAlicloud, createAlicloudApi, errorFacts } from '../openapi.ts';
import { type ClusterKmsConfig, clusterKmsConfig } from './config.ts';
import { TRAIL_EVENTS } from './events.ts';

export const FUNCTION_ID = 'alicloud.cluster-kms' as const;
const PAGE_SIZE = 50;

/**
 * ACK cluster ids are `c` followed by 32 lower-case hex digits (a dash-less UUID), e.g.
 * `c82e6987e2961451182edacd74faf****` in the API reference. Strict on purpose: the id goes into
 * a request path.
 */
export const CLUSTER_ID = /^c[0-9a-f]{32}$/;

export interface ClusterTarget extends Target {
  clusterId: string;
  /** The cluster name when the event or listing names it (exclude patterns match it too). */
  clusterName?: string;
}

export interface ClusterDesired {
  kmsKeyId: string;
  /**
   * The exclude patterns, for clusters whose name the event did not carry (a tamper event names
   * only the id): the read's name is checked too, so an excluded cluster is never written.
   */
  exclude?: readonly string[];
}

export interface ClusterState {
  lifecycle: string;
  /** The cluster's name (DescribeClusterDetail `name`). */
  name?: string;
  clusterType: string;
  clusterSpec?: string;
  kmsKeyId?: string;
  disableEncryption: boolean;
}

export interface ClusterKmsRemediatorOptions {
  /** Asked before every request (FC's STS credentials rotate). Default: the standard environment variables. */
  credentials?: () => AlicloudCredentials;
  /** Endpoint overrides are read here. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Account for sweep targets (DescribeClustersV1 does not name it). Default: $FC_ACCOUNT_ID, else ''. */
  account?: string;
  /** The signed-call layer; tests may substitute it. Default: createAlicloudApi. */
  api?: AlicloudApi;
}

// ------------------------------------------------------------------------------------------------
// parse (pure)
// ------------------------------------------------------------------------------------------------

const _facts = (event: unknown): EventFacts => {
  if (typeof event !== 'object' || event === null) return {};
  const id = (event as { id?: unknown }).id;
  return typeof id === 'string' && id.length <= 256 ? { eventId: id } : {};
};

const asString = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' && value.length <= 256 ? value : undefined;

/**
 * The cluster's id: responseElements (`cluster_id`, casing varies) for a creation; the request's
 * path parameter for UpdateKMSEncryption; else referencedResources — ActionTrail documents ACK
 * clusters as `ACS::ACK::Cluster` ("Fields in Alibaba Cloud-initiated events"); `ACS::CS::Cluster`
 * (the API's product code) is kept for records that use it.
 */
function clusterIdOf(event: ActionTrailCloudEvent, apiName: string): string | undefined {
  const referenced = event.data.referencedResources;
  return (
    asString(pick(event.data.responseElements, 'cluster_id', 'ClusterId')) ??
    (apiName === 'CreateCluster'
      ? undefined
      : asString(pick(event.data.requestParameters, 'ClusterId', 'cluster_id'))) ??
    asString(referenced?.['ACS::ACK::Cluster']?.[0]) ??
    asString(referenced?.['ACS::CS::Cluster']?.[0])
  );
}

/** What an UpdateKMSEncryption call asked for (body fields; ActionTrail's casing varies). */
function kmsRequestOf(event: ActionTrailCloudEvent): { disable?: boolean; kmsKeyId?: string } {
  const params = event.data.requestParameters;
  const disable = pick(params, 'disable_encryption', 'DisableEncryption');
  const key = asString(pick(params, 'kms_key_id', 'KmsKeyId', 'KMSKeyId'));
  return {
    ...(disable === true || disable === 'true' ? { disable: true } : {}),
    ...(disable === false || disable === 'false' ? { disable: false } : {}),
    ...(key !== undefined ? { kmsKeyId: key } : {}),
  };
}

export function parseEvent(event: unknown, config?: Config): Parsed<ClusterTarget> {
  const call = parseTrailCall(event, TRAIL_EVENTS);
  if (call.kind !== 'call') return call;
  const { event: e, region, account, known } = call;
  const clusterId = clusterIdOf(e, call.apiName);
  if (clusterId === undefined)
    return {
      kind: 'rejected',
      code: 'MissingClusterId',
      reason:
        'no cluster id in responseElements.cluster_id or referencedResources["ACS::ACK::Cluster"] / ["ACS::CS::Cluster"]',
      ...known,
    };
  if (!CLUSTER_ID.test(clusterId))
    return {
      kind: 'rejected',
      code: 'InvalidClusterId',
      reason: `not an ACK cluster id: ${JSON.stringify(clusterId.slice(0, 64))}`,
      ...known,
    };
  if (call.apiName === 'UpdateKMSEncryption') return parseTamper(e, clusterId, call, config);
  const clusterName = asString(pick(e.data.requestParameters, 'name', 'Name', 'cluster_name'));
  return {
    kind: 'targets',
    targets: [
      {
        eventId: e.id,
        account,
        region,
        resource: clusterId,
        // When the call happened: redeliveries are one piece of work, a later re-creation is new work.
        ...withObservedAt(call.observedAt),
        clusterId,
        ...(clusterName ? { clusterName } : {}),
      },
    ],
  };
}

/** UpdateKMSEncryption: a tamper unless it sets exactly the configured key with encryption on. */
function parseTamper(
  e: ActionTrailCloudEvent,
  clusterId: string,
  call: Extract<ReturnType<typeof parseTrailCall>, { kind: 'call' }>,
  config: Config | undefined,
): Parsed<ClusterTarget> {
  const name = call.apiName;
  const known = { ...call.known, resource: clusterId };
  const gate = tamperOf(clusterKmsConfig.of(config), name, 'alicloud.clusterKms', call.callId);
  if ('ignored' in gate) return { kind: 'ignored', reason: gate.ignored, ...known };
  const target: ClusterTarget = {
    eventId: e.id,
    account: call.account,
    region: call.region,
    resource: clusterId,
    // A tamper observed after the last completed run is new work; its redelivery is not.
    ...withObservedAt(call.observedAt),
    clusterId,
    tamper: gate.tamper,
  };
  const asked = kmsRequestOf(e);
  if (config !== undefined && asked.disable !== true && asked.kmsKeyId !== undefined) {
    const desire = desireFor(target, config);
    if (desire.kind === 'desired' && desire.desired.kmsKeyId === asked.kmsKeyId)
      return { kind: 'ignored', reason: setsConfiguredState(name, `key ${asked.kmsKeyId}`), ...known };
  }
  return { kind: 'targets', targets: [target] };
}

// ------------------------------------------------------------------------------------------------
// desire / evaluate (pure)
// ------------------------------------------------------------------------------------------------

export function desireFor(target: ClusterTarget, config: Config): Desire<ClusterDesired> {
  const section: ClusterKmsConfig | undefined = clusterKmsConfig.of(config);
  if (!section) return { kind: 'off' };
  for (const name of [target.clusterId, target.clusterName]) {
    if (name === undefined) continue;
    const pattern = excludedBy(name, section.exclude);
    if (pattern !== undefined) return { kind: 'excluded', reason: `${name} matches exclude ${pattern}` };
  }
  // A KMS key lives in one region: a per-region key wins over the default one.
  const kmsKeyId = section.byRegion?.[target.region] ?? section.kmsKeyId;
  return {
    kind: 'desired',
    desired: { kmsKeyId, ...(section.exclude?.length ? { exclude: section.exclude } : {}) },
    key: kmsKeyId,
  };
}

/** ACK Pro: managed cluster with an `ack.pro.*` spec; only these support Secret encryption. */
export function isAckPro(state: Pick<ClusterState, 'clusterType' | 'clusterSpec'>): boolean {
  return state.clusterType === 'ManagedKubernetes' && (state.clusterSpec?.startsWith('ack.pro.') ?? false);
}

const GONE_STATES = new Set(['deleting', 'deleted']);
const FAILED_STATES = new Set(['failed', 'delete_failed']);
/** States in which a Pro cluster is read as `found` (everything else is not ready yet). */
const SETTLED_STATES = new Set(['running', 'updating', ...FAILED_STATES]);

/** Pure: what a DescribeClusterDetail answer means for us. */
export function observe(state: ClusterState): Observed<ClusterState> {
  if (GONE_STATES.has(state.lifecycle)) return { kind: 'gone' };
  // A non-Pro cluster is excluded whatever its state: waiting for it to be ready would be wasted.
  if (!isAckPro(state) || SETTLED_STATES.has(state.lifecycle)) return { kind: 'found', state };
  return { kind: 'notReady', reason: `cluster is ${state.lifecycle}` };
}

export function evaluateState(state: ClusterState, desired: ClusterDesired): Verdict {
  const pattern = state.name !== undefined ? excludedBy(state.name, desired.exclude) : undefined;
  if (pattern !== undefined) return { kind: 'excluded', reason: `${state.name} matches exclude ${pattern}` };
  if (!isAckPro(state))
    return {
      kind: 'excluded',
      reason: `secret encryption needs ACK Pro (cluster is ${state.clusterType}${state.clusterSpec ? `/${state.clusterSpec}` : ''})`,
    };
  if (FAILED_STATES.has(state.lifecycle))
    return {
      kind: 'blocked',
      code: 'ClusterStateFailed',
      message: `cluster is ${state.lifecycle}; its Secrets stay unencrypted until someone repairs or deletes it`,
    };
  if (state.kmsKeyId === desired.kmsKeyId && !state.disableEncryption) return { kind: 'compliant' };
  return { kind: 'write' };
}

/** What DescribeClusterDetail must answer for a read to mean anything: the cluster, its state and type. */
const ClusterDetailAnswer = once(() =>
  z.looseObject({
    cluster_id: z.string().check(z.minLength(1)),
    state: z.string().check(z.minLength(1)),
    cluster_type: z.string().check(z.minLength(1)),
  }),
);

const ClustersPageAnswer = once(() => z.looseObject({ clusters: z.array(z.looseObject({})) }));

/** Pure: the parts of the DescribeClusterDetail body we use. Unparseable `meta_data` reads as "no key". */
export function clusterStateFrom(body: unknown): ClusterState {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  let capabilities: Record<string, unknown> = {};
  if (typeof b.meta_data === 'string' && b.meta_data !== '') {
    try {
      const meta = JSON.parse(b.meta_data) as { Capabilities?: unknown };
      if (typeof meta?.Capabilities === 'object' && meta.Capabilities !== null)
        capabilities = meta.Capabilities as Record<string, unknown>;
    } catch {
      // Malformed metadata: treat the key as unknown, which means "write it" (the write is idempotent).
    }
  }
  const key = capabilities.EncryptionKMSKeyId;
  const disabled = capabilities.DisableEncryption;
  return {
    lifecycle: typeof b.state === 'string' ? b.state : 'unknown',
    clusterType: typeof b.cluster_type === 'string' ? b.cluster_type : 'unknown',
    ...(typeof b.cluster_spec === 'string' && b.cluster_spec !== '' ? { clusterSpec: b.cluster_spec } : {}),
    ...(typeof b.name === 'string' && b.name !== '' ? { name: b.name } : {}),
    ...(typeof key === 'string' && key !== '' ? { kmsKeyId: key } : {}),
    disableEncryption: disabled === true || disabled === 'true',
  };
}

/** ACK-specific first, then the generic Alibaba Cloud mapping. */
export function classifyClusterError(error: unknown): RemediationError {
  const facts = errorFacts(error);
  // 409: a KMS update within 5 minutes of the last one, or the cluster is busy. Later, not never.
  if (facts.status === 409)
    return new NotReadyError(
      facts.message,
      {
        code: facts.code ?? 'Conflict',
        status: 409,
        ...(facts.requestId !== undefined ? { requestId: facts.requestId } : {}),
      },
      { cause: error },
    );
  return classifyAlicloud(error);
}

// ------------------------------------------------------------------------------------------------
// the remediator
// ------------------------------------------------------------------------------------------------

export function createRemediator(
  options: ClusterKmsRemediatorOptions = {},
): Remediator<ClusterTarget, ClusterDesired, ClusterState> {
  const env = options.env ?? process.env;
  const credentials = options.credentials ?? (() => credentialsFrom(undefined, env));
  const account = options.account ?? env.FC_ACCOUNT_ID ?? '';
  const api = options.api ?? createAlicloudApi({ credentials, env });
  const path = (clusterId: string) => `/clusters/${encodeURIComponent(clusterId)}`;

  /** One DescribeClustersV1 page; the cursor is the page number (1-based). */
  async function listPage(
    region: string,
    _config: Config,
    cursor?: string,
  ): Promise<ListPage<ClusterTarget>> {
    const page = cursor === undefined ? 1 : Number(cursor);
    if (!Number.isInteger(page) || page < 1)
      throw new InvalidError(`not a DescribeClustersV1 page cursor: ${JSON.stringify(cursor)}`, {
        code: 'InvalidCursor',
      });
    const response = await api.roa('CS', region, {
      action: 'DescribeClustersV1',
      method: 'GET',
      pathname: '/api/v1/clusters',
      query: { region_id: region, page_number: String(page), page_size: String(PAGE_SIZE) },
    });
    // A page without its list would end the sweep early, silently.
    const body = answerOf(ClustersPageAnswer(), response, 'DescribeClustersV1') as {
      clusters: Record<string, unknown>[];
      page_info?: { total_count?: unknown };
    };
    const targets: ClusterTarget[] = [];
    for (const cluster of body.clusters) {
      const clusterId = asString(cluster.cluster_id);
      if (clusterId === undefined || !CLUSTER_ID.test(clusterId)) continue;
      const clusterName = asString(cluster.name);
      targets.push({
        eventId: `sweep:${clusterId}`,
        account,
        region,
        resource: clusterId,
        clusterId,
        ...(clusterName ? { clusterName } : {}),
      });
    }
    const total = Number(body.page_info?.total_count ?? 0);
    const last = body.clusters.length === 0 || page * PAGE_SIZE >= total;
    return { targets, ...(last ? {} : { next: String(page + 1) }) };
  }

  return {
    id: FUNCTION_ID,
    owns: (event) => isActionTrailCall(event, TRAIL_EVENTS),
    parse: (event, config) => parseEvent(event, config),
    desire: desireFor,

    async read(target) {
      const response = await api.roa('CS', target.region, {
        action: 'DescribeClusterDetail',
        method: 'GET',
        pathname: path(target.clusterId),
      });
      // `{}` would read as an unknown, non-Pro cluster and end `excluded`: check the answer first.
      answerOf(ClusterDetailAnswer(), response, 'DescribeClusterDetail');
      return observe(clusterStateFrom(response.body));
    },

    evaluate: (state, desired) => evaluateState(state, desired),

    async apply(target, desired) {
      await api.roa('CS', target.region, {
        action: 'UpdateKMSEncryption',
        method: 'PUT',
        pathname: `${path(target.clusterId)}/kms`,
        body: { disable_encryption: false, kms_key_id: desired.kmsKeyId },
        bodyType: 'none',
      });
    },

    classify: classifyClusterError,

    listPage,
    list: listAll(listPage),
  };
}
