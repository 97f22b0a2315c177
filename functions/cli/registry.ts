/**
 * Every function the CLI can run in-process, by id, with the routing check that picks the owner of
 * an event. Remediators are created lazily so `atrest replay` of an AWS event never loads the
 * Alibaba Cloud code and the other way round.
 */

import type { AnyRemediator, RemediatorOptions } from '#core/manifest';
import type { FunctionId } from '#core/outcome';
import { isFunctionId, MANIFESTS, manifestOf } from '../manifests.ts';

export type { AnyRemediator };
export { isFunctionId };

const factories = (id: FunctionId) => manifestOf(id).remediator;

export class Registry {
  private readonly cache = new Map<FunctionId, Promise<AnyRemediator>>();

  constructor(private readonly options: RemediatorOptions = {}) {}

  get(id: FunctionId): Promise<AnyRemediator> {
    let remediator = this.cache.get(id);
    if (!remediator) {
      remediator = factories(id)(this.options);
      this.cache.set(id, remediator);
    }
    return remediator;
  }

  /** A fresh remediator of `id` with other options (a member account's credentials); not cached. */
  create(id: FunctionId, options: RemediatorOptions): Promise<AnyRemediator> {
    return factories(id)({ ...this.options, ...options });
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

/** Narrow by envelope first so routing an AWS event loads only the AWS functions' code. */
function candidates(event: unknown): FunctionId[] {
  if (typeof event !== 'object' || event === null) return [];
  const e = event as Record<string, unknown>;
  const aws =
    typeof e['detail-type'] === 'string' || (typeof e.source === 'string' && e.source.startsWith('aws.'));
  return MANIFESTS.filter((m) => m.cloud === (aws ? 'aws' : 'alicloud')).map((m) => m.id);
}
