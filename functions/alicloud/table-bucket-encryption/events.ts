/**
 * The ActionTrail records alicloud.table-bucket-encryption owns, in one place (the remediator,
 * the CLI's routing and the infra's EventBridge rule read it from here).
 *
 * Creation: OSS Tables `CreateTableBucket`, as an API call, a console operation or a service
 * event. Whether OSS Tables' records reach EventBridge is undocumented; the trail path delivers
 * them either way.
 */
import type { DeliveryPath, TrailEvents } from '../events.ts';

export const CREATION_EVENTS = { names: ['CreateTableBucket'] } as const satisfies TrailEvents;

/** Everything the function owns; tamper events join here. */
export const TRAIL_EVENTS: TrailEvents = { names: [...CREATION_EVENTS.names] };

/**
 * Delivery paths deployed when the config's `delivery` is absent. Whether OSS Tables' records reach EventBridge is undocumented: both paths.
 */
export const DEFAULT_DELIVERY: readonly DeliveryPath[] = ['eventbridge', 'trail'];
