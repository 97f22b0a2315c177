/**
 * RAM permissions of alicloud.cluster-kms. Infra builds the function role's policy from this.
 * Action names and resource types are the ones the ACK API reference lists under "Authorization
 * information": DescribeClusterDetail → `cs:DescribeClusterDetail`, UpdateKMSEncryption →
 * `cs:UpdateKMSEncryption` (both on `acs:cs:{region}:{account}:cluster/{id}`), and
 * DescribeClustersV1 → `cs:GetClusters` (on `acs:cs:*:{account}:cluster/*`; there is no
 * `cs:DescribeClustersV1` action).
 *
 * RAM is not enough: UpdateKMSEncryption also needs the caller to hold a cluster RBAC role
 * (O&M engineer or administrator) in every cluster, granted through ACK's authorization
 * (GrantPermissions), else ACK answers `ForbiddenUpdateKMSState` (→ `failed`, Denied).
 *
 * Deferral re-invokes the function itself asynchronously (FC 3.0 InvokeFunction), so it needs
 * `fc:InvokeFunction` on its own function: deploy it under FC_FUNCTION_NAME.
 */
import type { PermissionSet } from '#core/permissions';

/** The function name the infra deploys this function under (the self-invoke grant names it). */
const FC_FUNCTION_NAME = 'atrest-cluster-kms';

export const permissions: PermissionSet = {
  cloud: 'alicloud',
  statements: [
    {
      actions: ['cs:DescribeClusterDetail', 'cs:UpdateKMSEncryption'],
      resources: ['acs:cs:{region}:{account}:cluster/*'],
      why: 'read a cluster state and Secret encryption key (DescribeClusterDetail) and set the key (UpdateKMSEncryption)',
    },
    {
      actions: ['cs:GetClusters'],
      resources: ['acs:cs:*:{account}:cluster/*'],
      why: 'sweep: list the clusters of a region (DescribeClustersV1)',
    },
    {
      actions: ['fc:InvokeFunction'],
      resources: [`acs:fc:{region}:{account}:functions/${FC_FUNCTION_NAME}`],
      why: 'deferral: re-invoke itself asynchronously with x-fc-async-delay while a cluster is not ready',
    },
  ],
};
