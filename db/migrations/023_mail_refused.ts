/**
 * Who refused a report mail for good. A mail the server took for some recipients and refused for good
 * for others was recorded `sent`, the refusal only in its error text (overwritten by a later attempt):
 * once the operator corrected the address in `mail.lists`, nothing could tell that the mail was still
 * owed to the corrected address, and `report send --retry-failed` passed it by. `refused_to` keeps the
 * recipients refused for good who have not had the mail since, with the server's answer.
 *
 * Of the mails already sent with their deliveries known (migration 020), those refused for good are the
 * list the mail last took less those it was delivered to (a recipient refused for good is never owed it
 * again, so nothing else is left out); their answer is in the error text, not per recipient. A mail
 * failed for good was refused by every recipient it still had.
 */
import type { Knex } from 'knex';
import addressparser from 'nodemailer/lib/addressparser';

/** As reports/outbox.ts compares recipients: by mailbox, display name and case aside. */
const mailboxOf = (address: string) =>
  (addressparser(address, { flatten: true })[0]?.address ?? address).trim().toLowerCase();

interface Row {
  id: number;
  status: string;
  recipients: string;
  listed_to: string | null;
  delivered_to: string | null;
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (t) => {
    /** JSON [{ address, answer }]: refused for good and not delivered to since; null when none. */
    t.text('refused_to').nullable();
  });
  const rows = (await knex('mail_outbox')
    .where((q) =>
      q.where({ status: 'failed' }).orWhere((s) => s.where({ status: 'sent' }).whereNotNull('delivered_to')),
    )
    .select('id', 'status', 'recipients', 'listed_to', 'delivered_to')) as Row[];
  for (const row of rows) {
    let refused: string[];
    if (row.status === 'failed') refused = JSON.parse(row.recipients) as string[];
    else {
      const delivered = new Set((JSON.parse(row.delivered_to!) as string[]).map(mailboxOf));
      refused = (JSON.parse(row.listed_to ?? row.recipients) as string[]).filter(
        (a) => !delivered.has(mailboxOf(a)),
      );
    }
    if (refused.length > 0)
      await knex('mail_outbox')
        .where({ id: row.id })
        .update({ refused_to: JSON.stringify(refused.map((address) => ({ address, answer: null }))) });
  }
}

/**
 * The refusals go back into the error text, which is where the code before this migration kept them,
 * where it does not name them already (a later attempt overwrote it).
 */
export async function down(knex: Knex): Promise<void> {
  const rows = (await knex('mail_outbox')
    .whereNotNull('refused_to')
    .select('id', 'refused_to', 'last_error')) as Array<{
    id: number;
    refused_to: string;
    last_error: string | null;
  }>;
  for (const row of rows) {
    const missing = (JSON.parse(row.refused_to) as Array<{ address: string; answer: string | null }>).filter(
      (r) => !(row.last_error ?? '').includes(r.address),
    );
    if (missing.length === 0) continue;
    const said = `not delivered to ${missing.map((r) => `${r.address}: ${r.answer ?? 'refused for good'}`).join('; ')}`;
    await knex('mail_outbox')
      .where({ id: row.id })
      .update({ last_error: (row.last_error === null ? said : `${row.last_error}; ${said}`).slice(0, 4000) });
  }
  await knex.schema.alterTable('mail_outbox', (t) => {
    t.dropColumn('refused_to');
  });
}
