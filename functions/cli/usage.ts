export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `atrest report` and the org-wide flags of sweep and report (CONTRACT.md sections 7 and 8). */
export const REPORT_USAGE = `  atrest report [function-id]... [--org | --account ID...] [--region R]...
                [--format table|ndjson|md|csv] [--rate N] [--config FILE]
      Where do we stand? Reads, never writes: one line per resource of each configured function
      (default: all), {"function","account","region","resource","status","current","desired"},
      status compliant|noncompliant|excluded|error. --format: table on a terminal (ends with
      totals per function, account and region), else ndjson; md and csv for pipelines.
      Exit 0 when nothing is noncompliant or error, 1 otherwise, 2 usage.
  sweep and report: --org  every account of the organization (AWS Organizations / Resource
      Directory ListAccounts, less excludeAccounts); --account ID (repeatable); --region R
      (repeatable; default the organization's regions). Another account than your own needs the
      cloud's "organization" config section. An interrupted org-wide run resumes where it stopped
      (checkpoint in $ATREST_CHECKPOINT_DIR, default .atrest/checkpoints).`;

export const USAGE = `usage:
  atrest replay <event.json|folder|->... [--config FILE] [--dry-run] [--force]
      Run each event through the function that owns it, in this process, against the real cloud
      APIs (credentials and endpoints from the environment). A folder means every *.json in it; a
      file may hold one event or a JSON array of events; - reads standard input. Dead letters are
      unwrapped: \`aws sqs receive-message\` output, Lambda / Function Compute on-failure records,
      EventBridge dead-letter messages, atrest's own re-queued bodies.
      --dry-run  read state and decide, write nothing      --force  bypass the idempotency record
  atrest replay --remote <event.json|folder>... [--function-name NAME] [--region R] [--account ID]
                [--qualifier Q] [--fc2-service SERVICE]
      Invoke the deployed function instead (AWS Lambda Invoke; Function Compute 3.0 InvokeFunction,
      or @alicloud/fc2 for a function in an FC 2.0 service) and print its outcome lines.
      Default function name: atrest-<name> (atrest-log-group-kms, …); region and account: the event's.
  atrest sweep <function-id> [--org | --account ID...] [--region R]... [--dry-run] [--concurrency N]
               [--rate N] [--config FILE]
      List existing resources of that kind and remediate each non-compliant one (backfill).
      --rate: remediator API calls per second across all regions (default 5), so live events keep
      their quota. Progress and a summary on stderr.
${REPORT_USAGE}
  atrest doctor [--config FILE] [--region R]...
      Preflight: config valid; each configured key exists, is enabled, has the right spec and usage,
      and (AWS) its key policy lets CloudWatch Logs use it; a trail is logging (CloudTrail /
      ActionTrail), the EventBridge rules exist and are enabled, the default bus has room for them
      (Alibaba Cloud: 10 rules). One line per check on stdout:
      "ok|FAIL|skip  <check>  <detail>  fix: ...". --region: where default keys are used.

  Config: --config FILE, else $ATREST_CONFIG. Output: NDJSON on stdout, logs on stderr.
  Exit: 0 all good, 1 a failed or rejected line (doctor: a FAIL), 2 usage or config error.
  Function ids: aws.log-group-kms, alicloud.logstore-encryption, alicloud.cluster-kms,
                alicloud.table-bucket-encryption, alicloud.disk-default-kms`;
