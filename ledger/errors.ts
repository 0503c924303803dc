import { RedeyeError, type ErrorContext } from '../lib/errors.js';

/** A posting whose entries do not sum to zero (per unit), or that is otherwise not a posting. */
export class UnbalancedPostingError extends RedeyeError {
  constructor(message: string, context: ErrorContext = {}) {
    super('UNBALANCED_POSTING', message, context);
  }
}

export class InvalidPostingError extends RedeyeError {
  constructor(message: string, context: ErrorContext = {}) {
    super('INVALID_POSTING', message, context);
  }
}

/** The same idempotency key arrived with different content: both versions are named. */
export class IdempotencyConflictError extends RedeyeError {
  constructor(
    key: string,
    existing: { postingId: number; contentHash: string },
    incomingHash: string,
    /** What differs, when the hashes alone do not say (a reversal stored before its hash covered it). */
    difference?: string,
  ) {
    super(
      'IDEMPOTENCY_CONFLICT',
      `idempotency key ${key} is already used by posting ${existing.postingId} (content ${existing.contentHash.slice(0, 12)}…) ` +
        `and was offered again with different content (${incomingHash.slice(0, 12)}…)` +
        (difference ? `: ${difference}` : ''),
      { key, postingId: existing.postingId, existingHash: existing.contentHash, incomingHash },
    );
  }
}

/** A debit larger than the account's available balance: never posted as a negative balance. */
export class InsufficientPointsError extends RedeyeError {
  constructor(key: string, account: string, balance: number, requested: number) {
    super(
      'INSUFFICIENT_POINTS',
      `posting ${key} needs ${requested} from ${account}, which holds ${balance}`,
      { key, account, balance, requested },
    );
  }
}

export class UnknownPostingError extends RedeyeError {
  constructor(key: string, context: ErrorContext = {}) {
    super('UNKNOWN_POSTING', `no posting with idempotency key ${key}`, { key, ...context });
  }
}

export class AlreadyReversedError extends RedeyeError {
  constructor(originalKey: string, reversalPostingId: number, key: string) {
    super(
      'ALREADY_REVERSED',
      `posting ${originalKey} was already reversed by posting ${reversalPostingId}; ${key} cannot reverse it again`,
      { originalKey, reversalPostingId, key },
    );
  }
}

export class UnknownAccountOwnerError extends RedeyeError {
  constructor(account: string, what: string) {
    super('UNKNOWN_ACCOUNT_OWNER', `account ${account} needs ${what}, which does not exist`, { account });
  }
}

/**
 * A reversal dated before the posting it reverses: as of its date the points were not there yet, so it
 * would be judged against a balance without them (refused, or written off while the member keeps them).
 */
export class ReversalBeforeOriginalError extends RedeyeError {
  constructor(key: string, businessDate: string, originalKey: string, originalDate: string) {
    super(
      'REVERSAL_BEFORE_ORIGINAL',
      `reversal ${key} is dated ${businessDate}, before posting ${originalKey} it reverses (dated ${originalDate}): ` +
        `a reversal cannot take effect before its original`,
      { key, businessDate, originalKey, originalDate },
    );
  }
}
