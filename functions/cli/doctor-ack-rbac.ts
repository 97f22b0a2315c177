/**
 * `atrest doctor`: the one cluster-kms prerequisite that lives inside each cluster, not in RAM.
 * Besides its RAM policy, ACK authorizes a RAM identity per cluster through Kubernetes RBAC (ACK
 * console: Authorizations > RAM Roles). A function role with the RAM action but no RBAC grant in a
 * cluster gets that cluster refused, so the cluster ends `failed`.
 *
 * With the role's id (`--ack-role-id`, the stack output `ClusterKmsRoleId`) doctor lists the
 * region's clusters (`DescribeClustersV1`) and the role's grants (`DescribeUserPermission`,
 * `GET /permissions/users/{uid}`, cs 2015-12-15; RAM action `cs:GetUserPermissions`; answers
 * `[{resource_id: <cluster id> | <cluster id>/<namespace> | all-clusters, role_type, …}]`) and
 * reports each cluster without a cluster-wide grant. The API shows only the clusters on which the
 * caller itself is an RBAC admin, so doctor must run as such an identity. Without the id it says
 * what to grant and where, as a `skip` with the fix.
 */

import { ConfigError } from '#core/errors';
import { credentialsFrom } from '../alicloud/clients.ts';
import { classifyAlicloud, createAlicloudApi } from '../alicloud/openapi.ts';
import type { Config } from '../config.ts';
import type { Check } from './doctor-check.ts';

/** The role name the ROS stack gives cluster-kms (`<prefix>-cluster-kms-<region>`). */
function clusterKmsRoleName(region: string, prefix = 'atrest'): string {
  return `${prefix}-cluster-kms-${region}`;
}

export interface AckGrant {
  resource_id?: unknown;
  role_type?: unknown;
}

/** Pure: one line per cluster, from the clusters of a region and the role's grants. */
export function rbacChecks(
  region: string,
  roleId: string,
  clusters: readonly string[],
  grants: readonly AckGrant[],
): Check[] {
  const check = `alicloud.cluster-kms@${region} ack-rbac`;
  const fix = `ACK console > Authorizations > RAM Roles > ${clusterKmsRoleName(region)} (id ${roleId}) > grant admin on the cluster`;
  const all = grants.find((g) => g.resource_id === 'all-clusters');
  if (clusters.length === 0)
    return [{ status: 'ok', check, detail: `no ACK cluster in ${region} yet; grant RBAC to each new one` }];
  return clusters.map((id) => {
    const grant = all ?? grants.find((g) => g.resource_id === id);
    if (grant === undefined)
      return {
        status: 'FAIL',
        check: `${check} ${id}`,
        detail: `role ${roleId} has no RBAC grant on cluster ${id} (only namespace grants or none): the cluster would end failed`,
        fix,
      };
    if (grant.role_type !== 'admin')
      return {
        status: 'skip',
        check: `${check} ${id}`,
        detail: `role ${roleId} has role_type ${String(grant.role_type)} on ${id}; atrest is tested against admin only`,
        fix,
      };
    return {
      status: 'ok',
      check: `${check} ${id}`,
      detail: `role ${roleId} is admin on ${grant.resource_id === 'all-clusters' ? 'all clusters' : id}`,
    };
  });
}

/** The grants in DescribeUserPermission's answer; anything else (not JSON, not an array) is none. */
function grantsFrom(body: unknown): AckGrant[] {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      return [];
    }
  }
  return Array.isArray(value) ? value.filter((g): g is AckGrant => typeof g === 'object' && g !== null) : [];
}

export async function* ackRbacChecks(
  config: Config,
  regions: readonly string[],
  options: { roleId?: string; env: Record<string, string | undefined> },
): AsyncGenerator<Check> {
  if (config.alicloud?.clusterKms === undefined) return;
  const where = regions.length > 0 ? regions : ['<region>'];
  if (options.roleId === undefined || where[0] === '<region>') {
    for (const region of where)
      yield {
        status: 'skip',
        check: `alicloud.cluster-kms@${region} ack-rbac`,
        detail: `every ACK cluster in ${region} must grant the function role ${clusterKmsRoleName(region)} Kubernetes RBAC, or it ends failed; pass --ack-role-id (stack output ClusterKmsRoleId) to check each cluster`,
        fix: `ACK console > Authorizations > RAM Roles > ${clusterKmsRoleName(region)} > grant admin on each cluster, once per cluster`,
      };
    return;
  }
  let api: ReturnType<typeof createAlicloudApi>;
  try {
    const credentials = credentialsFrom(undefined, options.env);
    api = createAlicloudApi({ credentials: () => credentials, env: options.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return; // the key checks already printed the credentials FAIL
  }
  for (const region of where) {
    try {
      const clusters: string[] = [];
      for (let page = 1; page <= 50; page++) {
        const response = await api.roa('CS', region, {
          action: 'DescribeClustersV1',
          method: 'GET',
          pathname: '/api/v1/clusters',
          query: { region_id: region, page_number: String(page), page_size: '100' },
        });
        const body = (response.body ?? {}) as {
          clusters?: Array<{ cluster_id?: unknown }>;
          page_info?: { total_count?: unknown };
        };
        const batch = Array.isArray(body.clusters) ? body.clusters : [];
        for (const c of batch) if (typeof c.cluster_id === 'string') clusters.push(c.cluster_id);
        if (batch.length === 0 || page * 100 >= Number(body.page_info?.total_count ?? 0)) break;
      }
      // The answer is a bare JSON array, which the client's `json` body type refuses: read it as text.
      const grants = await api.roa('CS', region, {
        action: 'DescribeUserPermission',
        method: 'GET',
        pathname: `/permissions/users/${encodeURIComponent(options.roleId)}`,
        bodyType: 'none',
      });
      yield* rbacChecks(region, options.roleId, clusters, grantsFrom(grants.body));
    } catch (error) {
      const e = classifyAlicloud(error);
      yield {
        status: 'FAIL',
        check: `alicloud.cluster-kms@${region} ack-rbac`,
        detail: `DescribeClustersV1 / DescribeUserPermission failed: ${e.code}: ${e.message}`,
        fix: 'run doctor as an identity allowed cs:DescribeClustersV1 and cs:GetUserPermissions, and RBAC admin on the clusters',
      };
    }
  }
}
