/**
 * Who refused a report mail for good. A mail the server took for some recipients and refused for good
 * for others was recorded `sent`, the refusal only in its error text (overwritten by a later attempt):
 * once the operator corrected the address in `mail.lists`, nothing could tell that the mail was still
 * owed to the corrected address, and `report send --retry-failed` passed it by. `refused_to` keeps the
 * recipients refused for good who have not had the mail since, with the server's answer, while the mail
 * is open (its list names someone who has not had it); the first run that finds it finished clears it.
 *
 * Of the mails already there, only those failed for good record their refusals (every recipient they
 * still had). A mail already recorded sent stays closed: its list may have been edited any number of
 * times since, and whether an address new on it corrects a refused one or names a colleague who joined
 * later (not owed last month's report) is told only by a run that sees the list before and after — so
 * none of them comes back on upgrade; their error text says what it said of their refusals.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (t) => {
    /** JSON [{ address, answer }]: refused for good and not delivered to since; null when none or closed. */
    t.text('refused_to').nullable();
  });
  const rows = (await knex('mail_outbox').where({ status: 'failed' }).select('id', 'recipients')) as Array<{
    id: number;
    recipients: string;
  }>;
  for (const row of rows) {
    const refused = JSON.parse(row.recipients) as string[];
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
