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

/**
 * Tamper (CONTRACT section 6): the bucket's default encryption deleted, or replaced by another
 * configuration; a Put of the configured one is atrest's own write.
 */
export const TAMPER_EVENTS = {
  names: ['DeleteTableBucketEncryption', 'PutTableBucketEncryption'],
} as const satisfies TrailEvents;

/** Everything the function owns. */
export const TRAIL_EVENTS: TrailEvents = { names: [...CREATION_EVENTS.names, ...TAMPER_EVENTS.names] };

/**
 * Delivery paths deployed when the config's `delivery` is absent. Whether OSS Tables' records
 * reach EventBridge is undocumented: both paths.
 */
export const DEFAULT_DELIVERY: readonly DeliveryPath[] = ['eventbridge', 'trail'];
