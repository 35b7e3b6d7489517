// A usage error: printed as one line naming the flag or field, exit code 2 (other failures exit 1).
export class UsageError extends Error {
  override name = 'UsageError';
}
