/**
 * Where and as whom AWS calls go. One bare SDK client per region, kept for the life of the
 * instance (warm invocations reuse its connections). Credentials come from the SDK's default
 * chain; the endpoint only from the SDK's own `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`
 * (CONTRACT.md section 4) — never from event content. The region is pattern-checked before the
 * SDK builds a host name from it.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ConfigError } from '#core/errors';
import { AWS_REGION } from '#core/validation';

const logsClients = new Map<string, CloudWatchLogsClient>();

/**
 * The CloudWatch Logs client for `region`. `maxAttempts: 1`: the engine owns retries (it re-reads
 * after a conflict and budgets by the invocation's remaining time), and the API-call budget of
 * DESIGN.md must be exact, so the SDK must not retry behind its back.
 */
export function logsClient(region: string): CloudWatchLogsClient {
  const cached = logsClients.get(region);
  if (cached) return cached;
  if (!AWS_REGION.test(region)) throw new ConfigError([`region: ${JSON.stringify(region)} is not a region`]);
  const client = new CloudWatchLogsClient({
    region,
    maxAttempts: 1,
    // Bounded so a hung connection becomes a retryable TimeoutError, not a Lambda timeout.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  });
  logsClients.set(region, client);
  return client;
}
