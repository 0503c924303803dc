/**
 * A record the reader refuses keeps its field and message in `rejects`; an activity the program rules
 * refused kept only its reason code, so `files show` could print only the code's generic meaning (a
 * flown coupon's DUPLICATE read as a partner's "this partner_txn_id was already processed"). The rule's
 * field and message now stay with the activity, beside its reason, as the simulator shows them. Text on
 * both engines: a field is a path into the record and can be long (see 007). Activities decided before
 * this migration have none; they are shown with their reason's meaning for their feed.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.text('reason_field').nullable();
    t.text('reason_message').nullable();
  });
  // The reporting role reads the field at fault as it reads a reject's; the message stays withheld, as a
  // reject's does: a ledger refusal names what the member's account holds.
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (reason_field) ON activities TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.dropColumn('reason_message');
    t.dropColumn('reason_field');
  });
}
