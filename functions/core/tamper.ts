/**
 * Tamper events (CONTRACT.md section 6): the events that remove or weaken a function's encryption.
 * Each remediator names its own in one constant and calls `tamperOf` from its parser; the engine
 * then counts a restore (functions/core/restores.ts) only when it is about to write for one.
 */
import { DEFAULT_MAX_RESTORES_PER_HOUR, type ENFORCE_MODES } from './config.ts';
import type { Tamper } from './remediator.ts';

/** The enforcement keys every function's config section carries. */
export interface Enforcement {
  enforce?: (typeof ENFORCE_MODES)[number];
  maxRestoresPerHour?: number;
}

/**
 * Whether a tamper event is acted on: with `enforce: "create"` it is `ignored` with the reason;
 * otherwise the target carries the tamper and its cap. A missing section (function switched off)
 * still yields a tamper: the engine then answers `ignored` as for any event of an off function.
 */
export function tamperOf(
  section: Enforcement | undefined,
  event: string,
  configPath: string,
  callId: string,
): { tamper: Tamper } | { ignored: string } {
  if (section?.enforce === 'create')
    return {
      ignored: `${event} weakens the encryption, but ${configPath}.enforce is "create": only creations are acted on`,
    };
  return {
    tamper: {
      event,
      callId: callId.slice(0, 256),
      maxRestoresPerHour: section?.maxRestoresPerHour ?? DEFAULT_MAX_RESTORES_PER_HOUR,
    },
  };
}

/** The reason an event that sets exactly the configured state ends `ignored` (atrest's own restore, typically). */
export const setsConfiguredState = (event: string, what: string): string =>
  `${event} set ${what}, the configured state (atrest's own restore or an equivalent change): nothing to restore`;
