/**
 * The migrations, listed statically: knex's own directory scan would `import()` the compiled or the
 * TypeScript files depending on who runs it, and under the test runner that bypasses its loader.
 * Add a migration by adding its module here, numbered, never editing one that has shipped.
 */
import type { Knex } from 'knex';
import * as m001 from './001_ledger.js';
import * as m002 from './002_program.js';
import * as m003 from './003_report_indexes.js';
import * as m004 from './004_exports.js';
import * as m005 from './005_reporting_role.js';
import * as m006 from './006_activity_posting_id.js';
import * as m007 from './007_reject_field_length.js';
import * as m008 from './008_parsed_text_widths.js';
import * as m009 from './009_retention_indexes.js';
import * as m010 from './010_tier_event_effective_date.js';
import * as m011 from './011_reject_sequence_number.js';
import * as m012 from './012_activity_reason_detail.js';
import * as m013 from './013_held_ftl_counts.js';
import * as m014 from './014_cancellation_wait.js';
import * as m015 from './015_invoice_numbers.js';
import * as m016 from './016_retro_claim_set_aside.js';
import * as m017 from './017_run_lock_holder.js';
import * as m018 from './018_mail_claims.js';
import * as m019 from './019_file_decisions.js';
import * as m020 from './020_mail_recipients.js';
import * as m021 from './021_export_facts.js';
import * as m022 from './022_file_decisions_withheld.js';
import * as m023 from './023_mail_refused.js';
import * as m024 from './024_request_echo_token.js';
import * as m025 from './025_invoice_adjustments.js';
import * as m026 from './026_run_warnings.js';
import * as m027 from './027_travel_names_by_route.js';
import * as m028 from './028_member_pool_since.js';
import * as m029 from './029_past_pool_memberships.js';
import * as m030 from './030_member_names_and_waiting_merges.js';
import * as m031 from './031_tier_event_mailing.js';
import * as m032 from './032_erasures_by_number.js';
import * as m033 from './033_member_registered_on.js';
import * as m034 from './034_file_verdicts.js';
import * as m035 from './035_member_closures.js';
import * as m036 from './036_reject_indexes.js';
import * as m037 from './037_completed_ftl_messages.js';
import * as m038 from './038_invoice_line_credit_month.js';
import * as m040 from './040_tier_event_superseded.js';
import * as m041 from './041_awaiting_rate.js';
import * as m046 from './046_activity_marketing_key.js';
import * as m047 from './047_lots_by_account.js';
import * as m050 from './050_record_ordinal.js';
import * as m052 from './052_status_posting_keys_kept.js';
import * as m053 from './053_reject_messages_without_personal_values.js';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export const migrations: Migration[] = [
  { name: '001_ledger', ...m001 },
  { name: '002_program', ...m002 },
  { name: '003_report_indexes', ...m003 },
  { name: '004_exports', ...m004 },
  { name: '005_reporting_role', ...m005 },
  { name: '006_activity_posting_id', ...m006 },
  { name: '007_reject_field_length', ...m007 },
  { name: '008_parsed_text_widths', ...m008 },
  { name: '009_retention_indexes', ...m009 },
  { name: '010_tier_event_effective_date', ...m010 },
  { name: '011_reject_sequence_number', ...m011 },
  { name: '012_activity_reason_detail', ...m012 },
  { name: '013_held_ftl_counts', ...m013 },
  { name: '014_cancellation_wait', ...m014 },
  { name: '015_invoice_numbers', ...m015 },
  { name: '016_retro_claim_set_aside', ...m016 },
  { name: '017_run_lock_holder', ...m017 },
  { name: '018_mail_claims', ...m018 },
  { name: '019_file_decisions', ...m019 },
  { name: '020_mail_recipients', ...m020 },
  { name: '021_export_facts', ...m021 },
  { name: '022_file_decisions_withheld', ...m022 },
  { name: '023_mail_refused', ...m023 },
  { name: '024_request_echo_token', ...m024 },
  { name: '025_invoice_adjustments', ...m025 },
  { name: '026_run_warnings', ...m026 },
  { name: '027_travel_names_by_route', ...m027 },
  { name: '028_member_pool_since', ...m028 },
  { name: '029_past_pool_memberships', ...m029 },
  { name: '030_member_names_and_waiting_merges', ...m030 },
  { name: '031_tier_event_mailing', ...m031 },
  { name: '032_erasures_by_number', ...m032 },
  { name: '033_member_registered_on', ...m033 },
  { name: '034_file_verdicts', ...m034 },
  { name: '035_member_closures', ...m035 },
  { name: '036_reject_indexes', ...m036 },
  { name: '037_completed_ftl_messages', ...m037 },
  { name: '038_invoice_line_credit_month', ...m038 },
  { name: '040_tier_event_superseded', ...m040 },
  { name: '041_awaiting_rate', ...m041 },
  { name: '046_activity_marketing_key', ...m046 },
  { name: '047_lots_by_account', ...m047 },
  { name: '050_record_ordinal', ...m050 },
  { name: '052_status_posting_keys_kept', ...m052 },
  { name: '053_reject_messages_without_personal_values', ...m053 },
];

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};
