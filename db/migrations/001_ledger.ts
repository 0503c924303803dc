/**
 * The ledger and what it records: members and pools, accounts, postings and their entries, lots,
 * status credits, the file registry, job runs and rejects. Postings and entries are append-only:
 * no code path updates or deletes them; a correction is a reversal posting linked to its original.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('pools', (t) => {
    t.increments('id').primary();
    t.string('code', 40).notNullable().unique();
    t.string('type', 12).notNullable(); // HOUSEHOLD | CORPORATE
    t.timestamp('created_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('members', (t) => {
    t.increments('id').primary();
    t.string('number', 25).notNullable().unique();
    t.string('status', 12).notNullable(); // ACTIVE | INCOMPLETE | SUSPENDED | CLOSED | MERGED
    t.string('merged_into', 25).nullable();
    t.string('surname', 100).nullable();
    t.string('given_name', 100).nullable();
    t.string('surname_local', 100).nullable();
    t.string('given_name_local', 100).nullable();
    t.date('birth_date').nullable();
    t.string('email', 254).nullable();
    t.string('phone', 40).nullable();
    t.string('country', 2).nullable();
    t.string('language', 8).nullable();
    /** JSON object: mailing kind (or `ALL`) → consent given. */
    t.text('consent').nullable();
    t.date('enrolment_date').nullable();
    t.string('enrolment_channel', 12).nullable();
    t.integer('pool_id').nullable().references('id').inTable('pools');
    t.string('tier', 32).notNullable();
    t.date('tier_since').nullable();
    t.date('review_date').nullable();
    t.date('last_activity_date').nullable();
    t.date('closed_on').nullable();
    /** `updated_at` of the member-master row applied last: an older row never overwrites a newer one. */
    t.string('source_updated_at', 40).nullable();
    t.timestamp('erased_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['status']);
    t.index(['pool_id']);
  });

  await knex.schema.createTable('files', (t) => {
    t.increments('id').primary();
    t.string('direction', 3).notNullable(); // in | out
    t.string('feed', 32).notNullable();
    t.string('name', 255).notNullable();
    t.bigInteger('size').notNullable();
    t.string('sha256', 64).notNullable();
    t.string('transport', 64).nullable();
    t.string('remote_path', 1024).nullable();
    t.string('local_path', 1024).nullable();
    t.date('business_date').nullable();
    t.string('partner_code', 32).nullable();
    t.integer('sequence').nullable();
    /** pending | accepted | rejected | held | duplicate | conflict | written | delivered */
    t.string('verdict', 12).notNullable();
    t.string('reason', 64).nullable();
    t.text('message').nullable();
    /** JSON: lines, records, rejects, posted, … */
    t.text('counts').nullable();
    t.timestamp('received_at', { useTz: true }).nullable();
    t.timestamp('processed_at', { useTz: true }).nullable();
    t.timestamp('delivered_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['direction', 'feed', 'sha256']);
    t.index(['direction', 'feed', 'name']);
    t.index(['business_date']);
  });

  await knex.schema.createTable('accounts', (t) => {
    t.increments('id').primary();
    /** Stable human-readable identity, e.g. `MEMBER:1000000016:PTS`, `PARTNER:HTL`, `EXPIRY`. */
    t.string('code', 96).notNullable().unique();
    t.string('kind', 24).notNullable();
    /** PTS for award points; SPEND, MILES or SEGMENTS for status credits. */
    t.string('unit', 12).notNullable();
    t.integer('member_id').nullable().references('id').inTable('members');
    t.integer('pool_id').nullable().references('id').inTable('pools');
    t.string('partner_code', 32).nullable();
    t.string('service_type', 32).nullable();
    /** Whether credits create lots and debits consume them (member and pool award accounts). */
    t.boolean('tracks_lots').notNullable();
    /** Funding and absorbing accounts go negative by design; member and pool accounts never. */
    t.boolean('may_go_negative').notNullable();
    t.bigInteger('balance').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['member_id']);
    t.index(['kind']);
  });

  await knex.schema.createTable('postings', (t) => {
    t.bigIncrements('id').primary();
    t.string('kind', 24).notNullable();
    t.date('business_date').notNullable();
    t.string('idempotency_key', 200).notNullable().unique();
    /** Fingerprint of the posting's canonical content: a replay with other content is refused. */
    t.string('content_hash', 64).notNullable();
    t.integer('member_id').nullable().references('id').inTable('members');
    /** Where the points come from or go: OWN_FLIGHTS, PARTNER_AIRLINE:LH, PARTNER:HTL, REDEMPTION:UPGRADE, … */
    t.string('channel', 64).nullable();
    t.date('activity_date').nullable();
    t.integer('source_file_id').nullable().references('id').inTable('files');
    t.string('source_ref', 200).nullable();
    t.string('rule_version', 64).nullable();
    t.bigInteger('reversal_of').nullable().unique().references('id').inTable('postings');
    /** JSON explanation: rule, base points, bonuses, promotion, rate. */
    t.text('detail').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['business_date', 'kind']);
    t.index(['member_id']);
  });

  await knex.schema.createTable('entries', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('posting_id').notNullable().references('id').inTable('postings');
    t.integer('account_id').notNullable().references('id').inTable('accounts');
    t.bigInteger('amount').notNullable();
    t.date('business_date').notNullable();
    t.index(['account_id', 'business_date']);
    t.index(['posting_id']);
  });

  await knex.schema.createTable('lots', (t) => {
    t.bigIncrements('id').primary();
    t.integer('account_id').notNullable().references('id').inTable('accounts');
    t.bigInteger('amount').notNullable();
    t.bigInteger('remaining').notNullable();
    t.date('earned_on').notNullable();
    t.date('expires_on').nullable();
    t.bigInteger('origin_posting_id').notNullable().references('id').inTable('postings');
    t.index(['origin_posting_id']);
  });
  // Only open lots are ever searched for consumption; the partial index stays small as lots are spent.
  await knex.raw(
    'CREATE INDEX lots_open ON lots (account_id, expires_on, earned_on, id) WHERE remaining > 0',
  );

  await knex.schema.createTable('lot_movements', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('lot_id').notNullable().references('id').inTable('lots');
    t.bigInteger('posting_id').notNullable().references('id').inTable('postings');
    /** Negative: consumed by the posting; positive: restored by it (a reversal). */
    t.bigInteger('amount').notNullable();
    t.index(['posting_id']);
    t.index(['lot_id']);
  });

  await knex.schema.createTable('status_credits', (t) => {
    t.bigIncrements('id').primary();
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.string('metric', 12).notNullable(); // SPEND (minor units of base currency) | MILES | SEGMENTS
    t.bigInteger('amount').notNullable();
    t.date('activity_date').notNullable();
    t.bigInteger('posting_id').notNullable().references('id').inTable('postings');
    /** Set when the credit left the qualification window (its lapse posting). */
    t.bigInteger('lapsed_by').nullable().references('id').inTable('postings');
    t.index(['member_id', 'activity_date']);
    t.index(['posting_id']);
  });

  await knex.schema.createTable('job_runs', (t) => {
    t.increments('id').primary();
    t.string('job', 32).notNullable();
    t.date('business_date').notNullable();
    t.string('status', 12).notNullable(); // running | succeeded | failed
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.text('counts').nullable();
    t.text('error').nullable();
    t.string('host', 128).nullable();
    t.integer('pid').nullable();
    t.index(['job', 'business_date']);
  });

  await knex.schema.createTable('rejects', (t) => {
    t.bigIncrements('id').primary();
    t.integer('file_id').nullable().references('id').inTable('files');
    t.string('feed', 32).notNullable();
    t.integer('line').nullable();
    t.string('path', 255).nullable();
    t.string('field', 64).notNullable();
    t.string('reason', 48).notNullable();
    t.text('message').nullable();
    t.text('text').nullable();
    t.string('record_ref', 200).nullable();
    t.date('business_date').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['file_id']);
    t.index(['business_date', 'reason']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'rejects',
    'job_runs',
    'status_credits',
    'lot_movements',
    'lots',
    'entries',
    'postings',
    'accounts',
    'files',
    'members',
    'pools',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
