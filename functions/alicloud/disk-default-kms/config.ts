/**
 * alicloud.disk-default-kms's config section, `alicloud.diskDefaultKms` (README "Configuration"):
 * the KMS key of the account's default disk encryption, per region, and the regions checked.
 * Composed into the document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import { aliRegionMap, defineSection, delivery, enforcement, nonEmpty, type SectionType } from '#core/config';
import { ConfigError } from '#core/errors';
import { ALICLOUD_REGION } from '#core/validation';

export const diskDefaultKmsConfig = defineSection({
  cloud: 'alicloud',
  section: 'diskDefaultKms',
  schema: () =>
    z.strictObject({
      kmsKeyId: nonEmpty(),
      byRegion: z.optional(aliRegionMap(nonEmpty())),
      /** Regions the timer checks. Default: the regions named in `byRegion`. */
      regions: z.optional(z.array(z.string().check(z.regex(ALICLOUD_REGION)))),
      /** Turn account-level default disk encryption on where it is off. Default false (→ `excluded`). */
      enableIfDisabled: z.optional(z.boolean()),
      ...enforcement(),
      /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
      delivery: z.optional(delivery()),
    }),
  // The regions its timer checks: the config's own list, else the regions that have a key.
  regions: diskRegions,
  // Each region it serves (its own and the named ones) uses its byRegion key, else the default.
  keys: (section, named) => {
    const regions = [...new Set([...diskRegions(section), ...named])];
    if (regions.length === 0) return [{ field: 'alicloud.diskDefaultKms.kmsKeyId', key: section.kmsKeyId }];
    return regions.map((region) => {
      const own = section.byRegion?.[region];
      return own !== undefined
        ? { field: `alicloud.diskDefaultKms.byRegion.${region}`, key: own, region }
        : { field: 'alicloud.diskDefaultKms.kmsKeyId', key: section.kmsKeyId, region };
    });
  },
  starter: ({ alicloudKey, alicloudRegions }) => {
    if (alicloudKey === undefined)
      throw new ConfigError(['alicloud.disk-default-kms needs --alicloud-key KEY_ID']);
    return {
      kmsKeyId: alicloudKey,
      ...(alicloudRegions.length > 0 ? { regions: [...alicloudRegions] } : {}),
    };
  },
  summary: (section) =>
    `the ECS default disk key is kept on your key${section.regions ? ` in ${section.regions.join(', ')}` : ''}`,
});

function diskRegions(section: { regions?: string[]; byRegion?: Record<string, string> }): string[] {
  return section.regions ?? Object.keys(section.byRegion ?? {});
}

export type DiskDefaultKmsConfig = SectionType<typeof diskDefaultKmsConfig>;
