/**
 * Dead letters replay as they are (CONTRACT section 6): what an operator pulls out of a dead-letter
 * queue is unwrapped to the event the function was first given, so `atrest replay` processes it as
 * if just delivered. Pure: no I/O, every wrapper recognised by its own fields, never by guessing.
 *
 * Wrappers, outermost first (each may hold the next):
 * - `aws sqs receive-message` output: `{"Messages":[{"MessageId","ReceiptHandle","Body",…}]}`; also
 *   one such message alone, or an array of them (`--query 'Messages'`). Each `Body` is JSON text.
 * - EventBridge dead-letter message: the SQS body *is* the event; why it failed travels in message
 *   attributes (ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN, …; AWS EventBridge user guide,
 *   "Event retry policy and using dead-letter queues"), which replay does not need.
 * - Lambda asynchronous on-failure record: `{"version","timestamp","requestContext":{requestId,
 *   functionArn,condition,approximateInvokeCount},"requestPayload":<the event>,"responseContext",
 *   "responsePayload"}` (AWS Lambda developer guide, "Asynchronous invocation", destinations).
 * - Function Compute asynchronous destination record (FC "Result callback" / "Destinations for
 *   asynchronous invocations"): the same field names, `requestPayload` being the original request
 *   body as a string. An MNS queue may hand the message body over Base64-encoded; a body that is
 *   not JSON is tried as Base64 once.
 * - The FC adapter's own re-queue body `{"atrest":{"deferred":{attempt,firstSeenAt}},"event":…}`:
 *   the deferral bookkeeping is dropped, a replay starts the event afresh.
 */

export interface Unwrapped {
  /** Where it came from, e.g. `dlq.json Messages[0] requestPayload`. */
  source: string;
  event?: unknown;
  /** Set when a wrapper's payload is not an event (not JSON, empty): the item is `rejected`. */
  problem?: string;
}

/** Wrappers nest at most a few deep (SQS body → on-failure record → re-queue body → event). */
const MAX_DEPTH = 6;
/** Larger bodies are not events (an SQS message is at most 256 KiB, an MNS one 64 KiB). */
const MAX_BODY_CHARS = 1024 * 1024;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One SQS message as the AWS CLI / SDK prints it. */
function isSqsMessage(value: Json): boolean {
  return (
    typeof value.Body === 'string' &&
    (typeof value.MessageId === 'string' || typeof value.ReceiptHandle === 'string')
  );
}

/** `aws sqs receive-message` output (an empty queue prints `{}` or nothing). */
function isReceiveOutput(value: Json): boolean {
  return Array.isArray(value.Messages) && Object.keys(value).every((k) => k === 'Messages');
}

/** Lambda / FC asynchronous invocation record: both carry requestContext and requestPayload. */
function isInvocationRecord(value: Json): boolean {
  return isObject(value.requestContext) && 'requestPayload' in value && 'responseContext' in value;
}

/** The FC adapter's re-queue body (functions/alicloud/fc.ts wrapDeferred). */
function isRequeueBody(value: Json): boolean {
  const keys = Object.keys(value);
  return (
    keys.length === 2 &&
    'event' in value &&
    isObject(value.atrest) &&
    isObject((value.atrest as Json).deferred)
  );
}

/** JSON text, or Base64 of JSON text (MNS may Base64 the body). */
function parseText(text: string): { value: unknown } | { problem: string } {
  if (text.length > MAX_BODY_CHARS) return { problem: `payload larger than ${MAX_BODY_CHARS} characters` };
  const trimmed = text.trim();
  if (trimmed === '') return { problem: 'empty payload' };
  try {
    return { value: JSON.parse(trimmed) };
  } catch (error) {
    if (/^[A-Za-z0-9+/=\s]+$/.test(trimmed)) {
      try {
        return { value: JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8')) };
      } catch {
        // Not Base64 of JSON either: report the first failure.
      }
    }
    return { problem: `not JSON (${(error as Error).message})` };
  }
}

/**
 * Every event inside `value`, each with the path that led to it. A value that is no known wrapper
 * is returned as it is (an event, or something the router will reject).
 */
export function unwrapDeadLetters(value: unknown, source: string, depth = 0): Unwrapped[] {
  if (depth > MAX_DEPTH) return [{ source, problem: `${source}: wrappers nested deeper than ${MAX_DEPTH}` }];
  const deeper = (inner: unknown, path: string) => unwrapDeadLetters(inner, path, depth + 1);
  const fromText = (text: string, path: string): Unwrapped[] => {
    const parsed = parseText(text);
    return 'problem' in parsed
      ? [{ source: path, problem: `${path}: ${parsed.problem}` }]
      : deeper(parsed.value, path);
  };

  if (Array.isArray(value)) {
    // A JSON array of events (or of SQS messages, or an FC batch) is one item per element.
    return value.flatMap((item, i) => deeper(item, `${source}[${i}]`));
  }
  if (!isObject(value)) return [{ source, event: value }];

  if (isReceiveOutput(value))
    return (value.Messages as unknown[]).flatMap((m, i) => deeper(m, `${source} Messages[${i}]`));
  if (isSqsMessage(value)) return fromText(value.Body as string, `${source} Body`);
  if (isInvocationRecord(value)) {
    const payload = value.requestPayload;
    const path = `${source} requestPayload`;
    if (typeof payload === 'string') return fromText(payload, path);
    if (payload === null || payload === undefined)
      return [{ source: path, problem: `${path}: the record carries no request payload` }];
    return deeper(payload, path);
  }
  if (isRequeueBody(value)) return deeper(value.event, `${source} event`);
  return [{ source, event: value }];
}
