export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `usage:
  atrest replay <event.json|folder>... [--config FILE] [--dry-run] [--force]
      Run each event through the function that owns it, in this process, against the real cloud
      APIs (credentials and endpoints from the environment). A folder means every *.json in it; a
      file may hold one event or a JSON array of events.
      --dry-run  read state and decide, write nothing      --force  bypass the idempotency record
  atrest sweep <function-id> [--region R]... [--dry-run] [--concurrency N] [--config FILE]
      List existing resources of that kind and remediate each non-compliant one (backfill).

  Config: --config FILE, else $ATREST_CONFIG. Output: NDJSON on stdout, logs on stderr.
  Exit: 0 all good, 1 a failed or rejected line, 2 usage or config error.
  Function ids: aws.log-group-kms, alicloud.logstore-encryption, alicloud.cluster-kms,
                alicloud.table-bucket-encryption, alicloud.disk-default-kms`;
