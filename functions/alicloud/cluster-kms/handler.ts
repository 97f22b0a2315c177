/**
 * Function Compute entry of alicloud.cluster-kms (EventBridge trigger on ActionTrail
 * `CreateCluster` and the tamper `UpdateKMSEncryption`, one CloudEvent per invocation; the SLS
 * log trigger of the trail path, a cursor range per invocation; plus its own delayed
 * re-invocations while the cluster is not ready). The adapter is fc.ts `fcFunction`.
 */
import type { Config } from '#core/config';
import { fcFunction } from '../fc.ts';
import { clusterKmsConfig } from './config.ts';
import { createRemediator } from './remediator.ts';

/** How long a cluster may stay not ready before the event fails: config, default 120 minutes. */
const deferDeadlineMs = (config: Config): number =>
  (clusterKmsConfig.of(config)?.deferDeadlineMinutes ?? 120) * 60_000;

const entry = fcFunction(createRemediator, { config: clusterKmsConfig, deferDeadlineMs });

export const handler = entry.handler;
export const handlerOptions = entry.handlerOptions;
