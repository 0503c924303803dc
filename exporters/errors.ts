/**
 * Failures of the exporters. An export fails because of Redeye's own data or configuration (a partner
 * without a price, a claim that cannot be written, a name already used by another file), never because
 * of a partner's input, which the responses report instead. The context names the export, the partner,
 * the file and the field, so an operator can act on the message alone.
 */
import { RedeyeError, type ErrorContext } from '../lib/errors.js';

export interface ExportErrorContext extends ErrorContext {
  /** The export's identity (files.export_key). */
  export?: string;
  partner?: string;
}

export class ExportError extends RedeyeError {
  constructor(
    code: string,
    message: string,
    context: ExportErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options);
  }
}
