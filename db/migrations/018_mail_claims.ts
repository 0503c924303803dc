/**
 * Who is sending a report mail, and since when it failed for good. A mail claimed for sending (`sending`)
 * names its claimant (host and process id) and the time of the claim, so the next sender can tell a
 * claim of a process that is gone (killed mid-send) and take it back at once, instead of waiting an hour
 * while the report stays unsent; a mail refused for good keeps when that happened, for `report send` to
 * say. `sent_at` had held the time of the last claim too; it now holds only the time a mail was sent.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (t) => {
    t.string('claim_host', 255).nullable();
    t.integer('claim_pid').nullable();
    t.timestamp('claimed_at', { useTz: true }).nullable();
    t.timestamp('failed_at', { useTz: true }).nullable();
  });
  // A mail not sent had the time of its last claim (its last attempt) in sent_at.
  await knex('mail_outbox')
    .whereIn('status', ['pending', 'sending'])
    .update({ claimed_at: knex.ref('sent_at'), sent_at: null });
  await knex('mail_outbox')
    .where({ status: 'failed' })
    .update({ failed_at: knex.ref('sent_at'), sent_at: null });
}

export async function down(knex: Knex): Promise<void> {
  await knex('mail_outbox')
    .whereIn('status', ['pending', 'sending'])
    .update({ sent_at: knex.ref('claimed_at') });
  await knex('mail_outbox')
    .where({ status: 'failed' })
    .update({ sent_at: knex.ref('failed_at') });
  await knex.schema.alterTable('mail_outbox', (t) => {
    t.dropColumn('claim_host');
    t.dropColumn('claim_pid');
    t.dropColumn('claimed_at');
    t.dropColumn('failed_at');
  });
}
