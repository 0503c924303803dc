/**
 * The erasures of a member number, found by it. The members feed asks, for each number it has no member
 * row for, whether that number was erased: an account never enrolled whose merge waited for its survivor
 * can be erased (`member forget`, retention), and every later record of it must stay erased, its names as
 * tokens. Without the index each new enrolment would read the whole record of erasures, which retention
 * adds to every night.
 *
 * Down drops the index and nothing else: every erasure stays recorded.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX erasures_member_number ON erasures (member_number)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX erasures_member_number');
}
