/**
 * alicloud.disk-default-kms's config section, `alicloud.diskDefaultKms` (README "Configuration"):
 * the KMS key of the account's default disk encryption, per region, and the regions checked.
 * Composed into the document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import { aliRegionMap, defineSection, delivery, enforcement, nonEmpty, type SectionType } from '#core/config';
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
});

export type DiskDefaultKmsConfig = SectionType<typeof diskDefaultKmsConfig>;
