/**
 * alicloud.cluster-kms's config section, `alicloud.clusterKms` (README "Configuration"): the KMS
 * key ACK Secrets encryption uses, per region if need be, and how long a not-ready cluster may be
 * waited for. Composed into the document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import {
  aliRegionMap,
  defineSection,
  delivery,
  enforcement,
  excludePatterns,
  nonEmpty,
  type SectionType,
} from '#core/config';

export const clusterKmsConfig = defineSection({
  cloud: 'alicloud',
  section: 'clusterKms',
  schema: () =>
    z.strictObject({
      kmsKeyId: nonEmpty(),
      byRegion: z.optional(aliRegionMap(nonEmpty())),
      /** Cluster ids or names matching any of these regular expressions are left alone. */
      exclude: z.optional(excludePatterns()),
      /** How long a cluster may stay not-ready before the event fails. Default 120 minutes. */
      deferDeadlineMinutes: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1440))),
      ...enforcement(),
      /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
      delivery: z.optional(delivery()),
    }),
});

export type ClusterKmsConfig = SectionType<typeof clusterKmsConfig>;
