/**
 * `atrest doctor`: the one cluster-kms prerequisite that lives inside each cluster, not in RAM.
 * UpdateKMSEncryption is an ACK OpenAPI call, but ACK also authorizes RAM identities per cluster
 * through Kubernetes RBAC (ACK console: Authorizations > RAM Roles). A function role with the RAM
 * action but no RBAC binding in a cluster gets that cluster's call refused, so every such cluster
 * ends `failed`. Reading another identity's RBAC bindings needs the cluster's own credentials,
 * which doctor does not take; the line says what to grant and where, as a `skip` with the fix.
 */
import type { Config } from '#core/config';
import type { Check } from './doctor-check.ts';

/** The role name the ROS stack gives cluster-kms (`<prefix>-cluster-kms-<region>`). */
export function clusterKmsRoleName(region: string, prefix = 'atrest'): string {
  return `${prefix}-cluster-kms-${region}`;
}

export function ackRbacChecks(config: Config, regions: readonly string[]): Check[] {
  if (config.alicloud?.clusterKms === undefined) return [];
  const where = regions.length > 0 ? regions : ['<region>'];
  return where.map((region) => ({
    status: 'skip' as const,
    check: `alicloud.cluster-kms@${region} ack-rbac`,
    detail: `every ACK cluster in ${region} must grant the function role ${clusterKmsRoleName(region)} Kubernetes RBAC; without it each cluster ends failed (not checkable without cluster credentials)`,
    fix: `ACK console > Authorizations > RAM Roles > ${clusterKmsRoleName(region)} > grant cluster admin (or a custom ClusterRole) on each cluster, once per cluster`,
  }));
}
