/**
 * The ActionTrail records alicloud.logstore-encryption owns, in one place (the remediator, the
 * CLI's routing and the infra's EventBridge rule read it from here).
 *
 * Creation: `CreateLogStore`, whether called through the API, in the SLS console
 * (`ConsoleOperation`) or by a service on the user's behalf (`AliyunServiceEvent`). A real trail
 * records console-made logstores under the same name (eventSource `<region>.log.aliyuncs.com`,
 * resource type `ACS::SLS::LogStore`; events/SOURCES.md). SLS is not among the services whose
 * ActionTrail events reach EventBridge, so the trail path (trail.ts) is what delivers these.
 */
import type { DeliveryPath, TrailEvents } from '../events.ts';

export const CREATION_EVENTS = { names: ['CreateLogStore'] } as const satisfies TrailEvents;

/**
 * Tamper (CONTRACT section 6): `UpdateLogStoreEncryption` with `enable: false` is restored to
 * `enable: true` (only `enable` can change once set); with `enable: true` it is atrest's own write.
 */
export const TAMPER_EVENTS = { names: ['UpdateLogStoreEncryption'] } as const satisfies TrailEvents;

/** Everything the function owns. */
export const TRAIL_EVENTS: TrailEvents = { names: [...CREATION_EVENTS.names, ...TAMPER_EVENTS.names] };

/**
 * Delivery paths deployed when the config's `delivery` is absent. SLS is not among the services
 * EventBridge lists for ActionTrail events: the trail path is what delivers them; EventBridge
 * stays on in case it does.
 */
export const DEFAULT_DELIVERY: readonly DeliveryPath[] = ['eventbridge', 'trail'];
