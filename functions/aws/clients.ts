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
import { bounded, DEFAULT_MAX_BODY_BYTES } from './http.ts';

const logsClients = new Map<string, { client: CloudWatchLogsClient; keyId?: string }>();

export interface LogsClientOptions {
  /**
   * Abort a request whose whole answer, body included, has not arrived after this many ms (a
   * retryable TransientError `RequestTimeout`). Default 10 000.
   */
  requestTimeoutMs?: number;
  /** Largest response body accepted (a retryable `ResponseTooLarge` beyond). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Abort a connection attempt after this many ms. Default 3 000. */
  connectionTimeoutMs?: number;
  /**
   * A member account's assumed-role credentials (#core/accounts): the client is kept per account
   * and region, and rebuilt when the credentials are refreshed. Default: the SDK's default chain.
   */
  member?: {
    account: string;
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  };
}

/**
 * The CloudWatch Logs client for `region`. `maxAttempts: 1`: the engine owns retries (it re-reads
 * after a conflict and budgets by the invocation's remaining time), and the API-call budget of
 * DESIGN.md must be exact, so the SDK must not retry behind its back.
 */
export function logsClient(region: string, options: LogsClientOptions = {}): CloudWatchLogsClient {
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const connectionTimeout = options.connectionTimeoutMs ?? 3_000;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const member = options.member;
  const key = `${region}|${connectionTimeout}|${requestTimeout}|${maxBodyBytes}|${member?.account ?? ''}`;
  const cached = logsClients.get(key);
  if (cached && cached.keyId === member?.credentials.accessKeyId) return cached.client;
  // Refreshed credentials: the old client's keys are about to expire.
  cached?.client.destroy();
  if (!AWS_REGION.test(region)) throw new ConfigError([`region: ${JSON.stringify(region)} is not a region`]);
  const client = new CloudWatchLogsClient({
    region,
    maxAttempts: 1,
    // `requestTimeout` is the socket's idle timeout (with `throwOnRequestTimeout`, since
    // @smithy/node-http-handler 4.x, it aborts instead of only warning); `bounded` adds the
    // deadline on the whole exchange and the body cap that idle timeouts cannot give (./http.ts).
    requestHandler: { connectionTimeout, requestTimeout, throwOnRequestTimeout: true },
    ...(member ? { credentials: { ...member.credentials } } : {}),
  });
  bounded(client, { deadlineMs: requestTimeout, maxBodyBytes });
  logsClients.set(key, { client, ...(member ? { keyId: member.credentials.accessKeyId } : {}) });
  return client;
}
