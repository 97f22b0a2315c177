/**
 * The per-function test kit, found from the manifests: each function's driver lives beside its
 * tests (test/functions/<cloud>/<folder>/driver.ts, exporting `driver`); this module loads one per
 * manifest, so a new function joins the fault matrix, fuzzing, secrets, concurrency and tamper
 * suites without a line here. The meta-test (test/meta.test.ts) fails when a driver is missing.
 */
import type { FunctionManifest } from '#core/manifest';
import { MANIFESTS } from '../../functions/manifests.ts';
import type { Driver } from './driver-kit.ts';

export * from './driver-kit.ts';

/** Where a function's driver lives, relative to this module. */
export const driverPath = (m: FunctionManifest): string => `../functions/${m.cloud}/${m.folder}/driver.ts`;

const factories: ReadonlyArray<() => Driver> = await Promise.all(
  MANIFESTS.map(async (m) => {
    const module = (await import(driverPath(m))) as { driver?: () => Driver };
    if (typeof module.driver !== 'function') throw new Error(`${driverPath(m)}: exports no driver`);
    return module.driver;
  }),
);

/** One driver per manifest, in the manifests' order (CONTRACT.md order). */
export function allDrivers(): Driver[] {
  return factories.map((make) => make());
}
