/**
 * Emulated ACK (Container Service for Kubernetes, ROA API 2015-12-15): DescribeClusterDetail,
 * UpdateKMSEncryption and DescribeClustersV1 on their real paths, ACS3-signed, with cluster state.
 *
 * Behaviour modelled on the API reference: UpdateKMSEncryption moves the cluster to `updating`
 * and back to `running`; another update within 5 minutes (or while the cluster is busy) answers
 * HTTP 409. The 409 error *code* is not documented: `OperationConflict` is the emulator's choice.
 * Secret encryption lives in `meta_data` (a JSON string) under Capabilities.EncryptionKMSKeyId /
 * DisableEncryption, as the Terraform provider reads it.
 */

import { perAccountAlicloud } from './accounts.ts';
import { type Acs3Credential, Acs3Verifier, jsonAnswer, roaError } from './acs3.ts';
import {
  type AccountDirectory,
  type Answer,
  EmulatedService,
  nextRequestId,
  type PerAccount,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

export interface AckCluster {
  clusterId: string;
  name: string;
  regionId: string;
  /** initial, running, updating, upgrading, scaling, waiting, failed, deleting, deleted, delete_failed… */
  state: string;
  /** `ManagedKubernetes`, `Kubernetes` (dedicated), `ExternalKubernetes`, `Ask`… */
  clusterType: string;
  /** `ack.pro.small` (Pro), `ack.standard` (Basic); only for ManagedKubernetes. */
  clusterSpec?: string;
  profile?: string;
  kmsKeyId?: string;
  disableEncryption?: boolean;
  /** While `initial`: answer `initial` to this many more reads, then become `running`. */
  readyAfterReads?: number;
  /** While `updating`: answer `updating` to this many more reads, then become `running`. */
  updatingReads?: number;
  /** When the last UpdateKMSEncryption was accepted (ms since epoch). */
  lastKmsUpdateAt?: number;
}

export interface AckOptions {
  credentials?: Acs3Credential[];
  /** Keep clusters per account for the keys of this directory (Alibaba Cloud STS issues them). */
  accounts?: AccountDirectory;
  /** Reads a cluster stays `updating` after UpdateKMSEncryption. Default 1. */
  updatingReads?: number;
  /** Window in which a second UpdateKMSEncryption answers 409. Default 5 minutes. */
  conflictWindowMs?: number;
  now?: () => number;
  port?: number;
}

/** One RBAC grant as DescribeUserPermission returns it (cs 2015-12-15, `GET /permissions/users/{uid}`). */
export interface AckPermission {
  /** A cluster id, `<cluster id>/<namespace>`, or `all-clusters`. */
  resource_id: string;
  resource_type: 'cluster' | 'namespace' | 'console';
  role_type: 'admin' | 'ops' | 'dev' | 'restricted' | 'custom';
  role_name: string;
  is_owner: 0 | 1;
  is_ram_role: 0 | 1;
}

export class AckState {
  private readonly clusters = new Map<string, AckCluster>();
  /** RBAC grants by RAM user or role id. */
  readonly permissions = new Map<string, AckPermission[]>();

  /** Adds or replaces a cluster; defaults: a running ACK Pro cluster in cn-hangzhou without encryption. */
  seed(cluster: Partial<AckCluster> & Pick<AckCluster, 'clusterId'>): AckCluster {
    const full: AckCluster = {
      name: `cluster-${cluster.clusterId.slice(1, 7)}`,
      regionId: 'cn-hangzhou',
      state: 'running',
      clusterType: 'ManagedKubernetes',
      clusterSpec: 'ack.pro.small',
      profile: 'Default',
      ...cluster,
    };
    this.clusters.set(full.clusterId, full);
    return full;
  }

  get(clusterId: string): AckCluster | undefined {
    return this.clusters.get(clusterId);
  }

  all(): AckCluster[] {
    return [...this.clusters.values()];
  }

  /** Moves a cluster on by hand (e.g. `initial` → `running`); default target `running`. */
  advance(clusterId: string, state = 'running'): void {
    const cluster = this.clusters.get(clusterId);
    if (!cluster) throw new Error(`no cluster ${clusterId}`);
    cluster.state = state;
  }

  delete(clusterId: string): void {
    this.clusters.delete(clusterId);
  }
}

const DETAIL = /^\/clusters\/([^/]+)$/;
const PERMISSIONS = /^\/permissions\/users\/([^/]+)$/;
const KMS = /^\/clusters\/([^/]+)\/kms$/;

class AckHandler implements ServiceHandler {
  readonly throttle = { status: 429, code: 'Throttling.User' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly state: AckState,
    private readonly options: Required<Pick<AckOptions, 'updatingReads' | 'conflictWindowMs' | 'now'>> &
      Pick<AckOptions, 'credentials'>,
  ) {
    this.verifier = new Acs3Verifier(options.credentials);
  }

  action({ req, url }: RequestContext): string {
    if (req.method === 'GET' && DETAIL.test(url.pathname)) return 'DescribeClusterDetail';
    if (req.method === 'PUT' && KMS.test(url.pathname)) return 'UpdateKMSEncryption';
    if (req.method === 'GET' && url.pathname === '/api/v1/clusters') return 'DescribeClustersV1';
    if (req.method === 'GET' && PERMISSIONS.test(url.pathname)) return 'DescribeUserPermission';
    return 'Unknown';
  }

  isWrite(action: string): boolean {
    return action === 'UpdateKMSEncryption';
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return roaError(status, code, message, requestId);
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    this.verifier.check(ctx);
    const requestId = nextRequestId();
    switch (action) {
      case 'DescribeClusterDetail': {
        const id = decodeURIComponent(DETAIL.exec(ctx.url.pathname)?.[1] ?? '');
        log(id);
        return jsonAnswer(200, detail(this.read(id)), requestId);
      }
      case 'UpdateKMSEncryption': {
        const id = decodeURIComponent(KMS.exec(ctx.url.pathname)?.[1] ?? '');
        log(id);
        this.update(id, ctx.body);
        return { status: 200, body: '', headers: { 'x-acs-request-id': requestId } };
      }
      case 'DescribeClustersV1':
        return jsonAnswer(200, this.list(ctx.url.searchParams), requestId);
      case 'DescribeUserPermission': {
        const uid = decodeURIComponent(PERMISSIONS.exec(ctx.url.pathname)?.[1] ?? '');
        log(uid);
        return jsonAnswer(200, this.state.permissions.get(uid) ?? [], requestId);
      }
      default:
        throw new ServiceFailure(
          404,
          'InvalidAction.NotFound',
          `no such API: ${ctx.req.method} ${ctx.url.pathname}`,
        );
    }
  }

  private find(id: string): AckCluster {
    const cluster = this.state.get(id);
    if (!cluster || cluster.state === 'deleted')
      throw new ServiceFailure(404, 'ErrorClusterNotFound', `cluster ${id} not found`);
    return cluster;
  }

  /** One read moves the time-based transitions on. */
  private read(id: string): AckCluster {
    const cluster = this.find(id);
    if (cluster.state === 'initial' && cluster.readyAfterReads !== undefined) {
      if (cluster.readyAfterReads <= 0) cluster.state = 'running';
      else cluster.readyAfterReads -= 1;
    } else if (cluster.state === 'updating' && cluster.updatingReads !== undefined) {
      if (cluster.updatingReads <= 0) cluster.state = 'running';
      else cluster.updatingReads -= 1;
    }
    return cluster;
  }

  private update(id: string, raw: Buffer): void {
    const cluster = this.find(id);
    let body: { kms_key_id?: unknown; disable_encryption?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as typeof body;
    } catch {
      throw new ServiceFailure(400, 'InvalidParameter', 'request body is not JSON');
    }
    const disable = body.disable_encryption === true;
    if (!disable && (typeof body.kms_key_id !== 'string' || body.kms_key_id === ''))
      throw new ServiceFailure(
        400,
        'InvalidParameter.KmsKeyId',
        'kms_key_id is required to enable encryption',
      );
    if (cluster.clusterType !== 'ManagedKubernetes' || !cluster.clusterSpec?.startsWith('ack.pro.'))
      throw new ServiceFailure(
        400,
        'InvalidParameter.ClusterSpec',
        'secret encryption needs an ACK Pro cluster',
      );
    const now = this.options.now();
    if (cluster.state !== 'running')
      throw new ServiceFailure(409, 'OperationConflict', `cluster is ${cluster.state}; try again later`);
    if (
      cluster.lastKmsUpdateAt !== undefined &&
      now - cluster.lastKmsUpdateAt < this.options.conflictWindowMs
    )
      throw new ServiceFailure(409, 'OperationConflict', 'the last KMS update was less than 5 minutes ago');
    cluster.kmsKeyId = disable ? cluster.kmsKeyId : (body.kms_key_id as string);
    cluster.disableEncryption = disable;
    cluster.state = 'updating';
    cluster.updatingReads = this.options.updatingReads;
    cluster.lastKmsUpdateAt = now;
  }

  private list(query: URLSearchParams): unknown {
    const region = query.get('region_id');
    const type = query.get('cluster_type');
    const pageNumber = Math.max(1, Number(query.get('page_number') ?? '1') || 1);
    const pageSize = Math.min(100, Math.max(1, Number(query.get('page_size') ?? '10') || 10));
    const matching = this.state
      .all()
      .filter((c) => c.state !== 'deleted')
      .filter((c) => (region ? c.regionId === region : true))
      .filter((c) => (type ? c.clusterType === type : true));
    const page = matching.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
    return {
      clusters: page.map(detail),
      page_info: { page_number: pageNumber, page_size: pageSize, total_count: matching.length },
    };
  }
}

/** The DescribeClusterDetail body (the fields the real API returns that matter here, plus a few for realism). */
function detail(c: AckCluster): Record<string, unknown> {
  const capabilities: Record<string, unknown> = { Network: 'terway-eniip', PublicSLB: false };
  if (c.kmsKeyId !== undefined) capabilities.EncryptionKMSKeyId = c.kmsKeyId;
  if (c.disableEncryption !== undefined) capabilities.DisableEncryption = c.disableEncryption;
  return {
    cluster_id: c.clusterId,
    name: c.name,
    region_id: c.regionId,
    state: c.state,
    cluster_type: c.clusterType,
    ...(c.clusterSpec !== undefined ? { cluster_spec: c.clusterSpec } : {}),
    ...(c.profile !== undefined ? { profile: c.profile } : {}),
    current_version: '1.32.1-aliyun.1',
    init_version: '1.32.1-aliyun.1',
    created: '2026-11-22T08:00:00+08:00',
    updated: '2026-11-22T08:05:00+08:00',
    network_mode: 'vpc',
    vpc_id: 'vpc-bp1emulator0000000000',
    resource_group_id: 'rg-acfmemulator0000',
    deletion_protection: false,
    size: 3,
    meta_data: JSON.stringify({
      Capabilities: capabilities,
      KubernetesVersion: '1.32.1-aliyun.1',
      ExtraCertSAN: null,
    }),
  };
}

export interface AckEmulator {
  service: EmulatedService;
  url: string;
  clusters: AckState;
  /** The clusters of each account; `clusters` is the default account's. */
  states: PerAccount<AckState>;
  stop(): Promise<void>;
}

/** Starts the ACK emulator on a loopback port; point `ALIBABA_CLOUD_ENDPOINT_CS` at `url`. */
export async function startAck(options: AckOptions = {}): Promise<AckEmulator> {
  const clusters = new AckState();
  const { handler, states } = perAccountAlicloud({
    accounts: options.accounts,
    credentials: options.credentials,
    state: clusters,
    makeState: () => new AckState(),
    makeHandler: (state, credentials) =>
      new AckHandler(state, {
        updatingReads: options.updatingReads ?? 1,
        conflictWindowMs: options.conflictWindowMs ?? 5 * 60_000,
        now: options.now ?? Date.now,
        ...(credentials ? { credentials } : {}),
      }),
  });
  const service = new EmulatedService('ack', handler);
  const url = await service.start(options.port);
  return { service, url, clusters, states, stop: () => service.stop() };
}
