/**
 * Every function the CLI can run in-process, by id, with the routing check that picks the owner of
 * an event. Remediators are created lazily so `atrest replay` of an AWS event never loads the
 * Alibaba Cloud code and the other way round.
 */

import { FUNCTION_IDS, type FunctionId } from '#core/outcome';
import type { Remediator } from '#core/remediator';

// biome-ignore lint/suspicious/noExplicitAny: the registry holds remediators of every shape.
export type AnyRemediator = Remediator<any, any, any>;

export interface RemediatorOptions {
  env?: Record<string, string | undefined>;
  /** A member account's remediator (functions/cli/accounts.ts): its account and credentials. */
  account?: string;
  /** Alibaba Cloud: the member's credentials, asked per request. */
  credentials?: () => { accessKeyId: string; accessKeySecret: string; securityToken?: string };
  /** AWS: the member's CloudWatch Logs client per region. */
  logsClient?: (region: string) => unknown;
}

type Factory = (options: RemediatorOptions) => Promise<AnyRemediator>;

const factories: Record<FunctionId, Factory> = {
  'aws.log-group-kms': async (o) =>
    (await import('../aws/log-group-kms/remediator.ts')).createRemediator({
      ...(o.env ? { env: o.env } : {}),
      ...(o.account ? { accountId: o.account } : {}),
      ...(o.logsClient ? { client: o.logsClient as never } : {}),
    }),
  'alicloud.logstore-encryption': async (o) =>
    (await import('../alicloud/logstore-encryption/remediator.ts')).createRemediator(o),
  'alicloud.cluster-kms': async (o) =>
    (await import('../alicloud/cluster-kms/remediator.ts')).createRemediator(o),
  'alicloud.table-bucket-encryption': async (o) =>
    (await import('../alicloud/table-bucket-encryption/remediator.ts')).createRemediator(o),
  'alicloud.disk-default-kms': async (o) =>
    (await import('../alicloud/disk-default-kms/remediator.ts')).createRemediator(o),
};

export const isFunctionId = (value: string): value is FunctionId =>
  (FUNCTION_IDS as readonly string[]).includes(value);

export class Registry {
  private readonly cache = new Map<FunctionId, Promise<AnyRemediator>>();

  constructor(private readonly options: RemediatorOptions = {}) {}

  get(id: FunctionId): Promise<AnyRemediator> {
    let remediator = this.cache.get(id);
    if (!remediator) {
      remediator = factories[id](this.options);
      this.cache.set(id, remediator);
    }
    return remediator;
  }

  /** A fresh remediator of `id` with other options (a member account's credentials); not cached. */
  create(id: FunctionId, options: RemediatorOptions): Promise<AnyRemediator> {
    return factories[id]({ ...this.options, ...options });
  }

  /**
   * The function whose `owns()` accepts the event, by the event's own fields: an EventBridge
   * envelope, an Alibaba Cloud CloudEvent of any ActionTrail type, or a bare ActionTrail record.
   * An SLS-trigger event stands for many records: `atrest replay` expands it first (trail.ts).
   */
  async route(event: unknown): Promise<AnyRemediator | undefined> {
    for (const id of candidates(event)) {
      const remediator = await this.get(id);
      if (remediator.owns(event)) return remediator;
    }
    return undefined;
  }
}

/** Narrow by envelope first so routing an AWS event loads only AWS code. */
function candidates(event: unknown): FunctionId[] {
  if (typeof event !== 'object' || event === null) return [];
  const e = event as Record<string, unknown>;
  if (typeof e['detail-type'] === 'string' || (typeof e.source === 'string' && e.source.startsWith('aws.')))
    return ['aws.log-group-kms'];
  return FUNCTION_IDS.filter((id) => id.startsWith('alicloud.'));
}
