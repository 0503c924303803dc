/**
 * What the program keeps beside the ledger: the activity archive (every flight, partner record, stay,
 * partner-airline claim and redemption that was read, with what became of it), held FTL parts, tier
 * events, exchange rates, retro-claims, alliance claims sent and their results, sequences for outbound
 * files, the mail outbox, the record of erasures, and job locks.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('activities', (t) => {
    t.bigIncrements('id').primary();
    /** The activity's stable identity: the posting keys derive from it. */
    t.string('activity_key', 200).notNullable().unique();
    /** FLIGHT | PARTNER_FLIGHT | PARTNER | HOTEL | REDEMPTION */
    t.string('type', 16).notNullable();
    t.string('member_number', 25).nullable();
    t.integer('member_id').nullable().references('id').inTable('members');
    t.date('activity_date').notNullable();
    /** Business date of the night that first read it. */
    t.date('business_date').notNullable();
    t.string('channel', 64).nullable();
    t.string('partner_code', 32).nullable();
    t.string('activity_type', 32).nullable();
    t.string('service_type', 32).nullable();
    // Flights (own and partner-airline).
    t.string('carrier', 3).nullable();
    t.string('flight_number', 8).nullable();
    t.string('origin', 3).nullable();
    t.string('destination', 3).nullable();
    t.string('cabin', 1).nullable();
    t.string('booked_class', 1).nullable();
    t.string('flown_class', 1).nullable();
    t.string('ticket_number', 13).nullable();
    t.integer('coupon_number').nullable();
    t.string('coupon_status', 1).nullable();
    t.string('pnr', 8).nullable();
    /** Name as travelled: kept for retro-claim matching within the claim window only. */
    t.string('travel_surname', 100).nullable();
    t.string('travel_given_name', 100).nullable();
    t.boolean('seen_ftl').notNullable().defaultTo(false);
    t.boolean('seen_coupon').notNullable().defaultTo(false);
    t.integer('miles').nullable();
    /** Spend in minor units of its own currency (coupons: fare, carrier surcharge, tax). */
    t.bigInteger('spend_minor').nullable();
    t.bigInteger('fare_minor').nullable();
    t.bigInteger('surcharge_minor').nullable();
    t.bigInteger('tax_minor').nullable();
    t.string('spend_currency', 3).nullable();
    /** The spend converted to the base currency at the activity date's rate, once accrued. */
    t.bigInteger('base_spend_minor').nullable();
    /** Partner-requested points (signed; a negative value reverses `reversal_of_ref`). */
    t.integer('points_requested').nullable();
    t.string('reversal_of_ref', 100).nullable();
    /** JSON: feed-specific facts the rules need later (hotel revenue by category, promo code, cards). */
    t.text('detail').nullable();
    /** Partner's own reference (transaction id, reservation id, claim id, redemption id). */
    t.string('external_ref', 100).nullable();
    /** POSTED | PARTIAL | REJECTED | PENDING | REVERSED | NOT_CREDITED (another program's card) */
    t.string('status', 16).notNullable();
    t.string('reason', 48).nullable();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('status_credit').notNullable().defaultTo(0);
    /** Idempotency keys of the award posting and of a separate status-credit posting, once posted. */
    t.string('posting_key', 200).nullable();
    t.string('status_posting_key', 200).nullable();
    /** The activity has work for the accrue job (new, completed by another feed, or corrected). */
    t.boolean('needs_accrual').notNullable().defaultTo(true);
    t.string('rule_version', 64).nullable();
    t.integer('source_file_id').nullable().references('id').inTable('files');
    t.integer('source_line').nullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['ticket_number', 'coupon_number']);
    t.index(['carrier', 'flight_number', 'activity_date', 'origin']);
    t.index(['member_id', 'activity_date']);
    t.index(['member_number', 'activity_date']);
    t.index(['business_date', 'type']);
    t.index(['source_file_id']);
    t.index(['partner_code', 'external_ref']);
    t.index(['needs_accrual', 'id']);
  });

  await knex.schema.createTable('ftl_parts', (t) => {
    t.bigIncrements('id').primary();
    /** Flight identity of the message the part belongs to. */
    t.string('message_key', 80).notNullable();
    t.integer('part_number').notNullable();
    /** JSON: the held part as the FTL assembler serialises it. */
    t.text('part').notNullable();
    t.integer('file_id').nullable().references('id').inTable('files');
    t.timestamp('received_at', { useTz: true }).notNullable();
    /** held | used | expired */
    t.string('status', 8).notNullable();
    t.unique(['message_key', 'part_number']);
    t.index(['status']);
  });

  await knex.schema.createTable('tier_events', (t) => {
    t.bigIncrements('id').primary();
    t.string('event_key', 120).notNullable().unique();
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.date('business_date').notNullable();
    t.string('from_tier', 32).nullable();
    t.string('to_tier', 32).notNullable();
    /** UP | DOWN | HOLD (a review that kept the tier) */
    t.string('direction', 8).notNullable();
    /** Qualification value in the window at the time (metric units). */
    t.bigInteger('qualification').notNullable();
    t.string('reason', 64).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['business_date']);
    t.index(['member_id']);
  });

  await knex.schema.createTable('fx_rates', (t) => {
    t.date('rate_date').notNullable();
    t.string('currency', 3).notNullable();
    /** Units of the currency per euro, exact decimal text. */
    t.string('rate', 32).notNullable();
    t.integer('source_file_id').nullable().references('id').inTable('files');
    t.primary(['rate_date', 'currency']);
  });

  await knex.schema.createTable('retro_claims', (t) => {
    t.bigIncrements('id').primary();
    t.string('claim_id', 64).notNullable().unique();
    t.string('member_number', 25).notNullable();
    t.date('received_date').notNullable();
    /** JSON: the claim as read. */
    t.text('claim').notNullable();
    /** PENDING | CREDITED | REJECTED */
    t.string('status', 12).notNullable();
    t.string('reason', 32).nullable();
    t.string('activity_key', 200).nullable();
    t.integer('source_file_id').nullable().references('id').inTable('files');
    t.date('last_tried_on').nullable();
    t.index(['status']);
  });

  await knex.schema.createTable('alliance_claims', (t) => {
    t.bigIncrements('id').primary();
    /** OUT: our passengers' partner cards, sent to the partner; IN: the partner's claims for our members. */
    t.string('direction', 3).notNullable();
    t.string('partner_code', 32).notNullable();
    t.string('claim_id', 64).notNullable();
    t.string('activity_key', 200).nullable();
    t.date('business_date').notNullable();
    t.integer('file_id').nullable().references('id').inTable('files');
    /** JSON: the claim as sent or received. */
    t.text('claim').notNullable();
    /** PENDING | SENT | ACCEPTED | REJECTED */
    t.string('status', 12).notNullable();
    t.integer('points').nullable();
    t.string('reason', 48).nullable();
    t.date('answered_on').nullable();
    t.integer('result_file_id').nullable().references('id').inTable('files');
    t.unique(['direction', 'partner_code', 'claim_id']);
    t.index(['direction', 'status', 'business_date']);
  });

  await knex.schema.createTable('sequences', (t) => {
    /** e.g. `partner-response:GRANDSTAY`, `alliance-claims:XX:LH`, `invoice:2026` */
    t.string('scope', 96).primary();
    t.integer('value').notNullable();
  });

  await knex.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.string('report', 64).notNullable();
    t.date('business_date').notNullable();
    /** Deterministic Message-ID: a resend after a crash is recognisable as the same mail. */
    t.string('message_id', 200).notNullable().unique();
    t.text('recipients').notNullable();
    t.string('subject', 255).notNullable();
    /** JSON: paths of the workbook and images under the reports folder. */
    t.text('attachments').notNullable();
    t.text('html').notNullable();
    t.text('text').notNullable();
    /** pending | sent | failed */
    t.string('status', 8).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('sent_at', { useTz: true }).nullable();
    t.unique(['report', 'business_date']);
  });

  await knex.schema.createTable('erasures', (t) => {
    t.bigIncrements('id').primary();
    t.string('member_number', 25).notNullable();
    /** RETENTION | REQUEST */
    t.string('reason', 12).notNullable();
    t.timestamp('erased_at', { useTz: true }).notNullable();
    t.string('fields', 255).notNullable();
  });

  await knex.schema.createTable('job_locks', (t) => {
    /** `<job>:<business date>`, or `nightly:<date>` for the whole night. */
    t.string('name', 96).primary();
    t.string('holder', 128).notNullable();
    t.integer('pid').notNullable();
    t.timestamp('acquired_at', { useTz: true }).notNullable();
    t.timestamp('heartbeat_at', { useTz: true }).notNullable();
  });

  // The tiers job lapses credits that left the qualification window; only live ones are searched.
  await knex.raw(
    'CREATE INDEX status_credits_live ON status_credits (activity_date) WHERE lapsed_by IS NULL',
  );

  await knex.schema.alterTable('rejects', (t) => {
    t.string('member_number', 25).nullable();
  });
  await knex.schema.alterTable('files', (t) => {
    /** Outbound files: the inbound file they answer (partner responses, alliance results). */
    t.integer('answers_file_id').nullable().references('id').inTable('files');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files', (t) => t.dropColumn('answers_file_id'));
  await knex.schema.alterTable('rejects', (t) => t.dropColumn('member_number'));
  for (const table of [
    'job_locks',
    'erasures',
    'mail_outbox',
    'sequences',
    'alliance_claims',
    'retro_claims',
    'fx_rates',
    'tier_events',
    'ftl_parts',
    'activities',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
