/**
 * Who a report mail was listed for, and who has it. A mail goes to the recipients its report's
 * distribution list names when it is sent, not when it was queued: the operator who corrects a wrong
 * address expects `report send --retry-failed` to use the correction. To change the list of a mail
 * some recipients already took without sending it to them twice, the outbox keeps, beside the
 * recipients still owed it (`recipients`), the list the mail last took from the configuration
 * (`listed_to`: an address on the list now but not then is a new one) and the recipients the server
 * accepted it for (`delivered_to`).
 *
 * A mail queued before this migration and never tried, or tried once with an answer on record that it
 * reached no one (refused, failed for now, its workbook missing), has been delivered to no one, which is
 * recorded. Of any other who has it is not known (null), and it keeps to the recipients it still has:
 * one tried more often or delivered to part of its list; one left `sending` by a sender killed
 * mid-send (the server may have taken it); one pending after one attempt with no error on record (a
 * stop request before anyone took it, or a killed sender's mail taken back by a run that ended before
 * trying it again: which is not known).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (t) => {
    /** JSON: the distribution list as the mail last took it from `mail.lists`. */
    t.text('listed_to').nullable();
    /** JSON: the recipients the server accepted the mail for; null when not known (see above). */
    t.text('delivered_to').nullable();
  });
  await knex('mail_outbox')
    .whereNot({ status: 'sent' })
    .update({ listed_to: knex.ref('recipients') });
  // One attempt that delivered to part of the list says so in last_error; a later attempt overwrites it.
  await knex('mail_outbox')
    .whereIn('status', ['pending', 'failed'])
    .andWhere((q) =>
      q
        .where({ attempts: 0 })
        .orWhere((one) =>
          one
            .where({ attempts: 1 })
            .whereNotNull('last_error')
            .whereNot('last_error', 'like', 'delivered to %'),
        ),
    )
    .update({ delivered_to: '[]' });
}

/** The recipients still owed each mail stay in `recipients`, as the code before this migration reads them. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (t) => {
    t.dropColumn('listed_to');
    t.dropColumn('delivered_to');
  });
}
