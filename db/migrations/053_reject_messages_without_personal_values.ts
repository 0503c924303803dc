/**
 * A reject's message used to quote the value it refused, personal ones too (`email: expected …, found
 * "ivan ivanov@mail.example"`). Erasure and the age rule blank a reject's text but keep its message, and a
 * parse reject carries no member number to erase it by, so those values stayed for good. The readers no
 * longer quote a personal column's value; up takes the quoted value out of the messages written before:
 *
 * - a refused value of a personal column (names, local names, birth date, e-mail, phone): the message
 *   keeps what was expected, as the readers write it now;
 * - an FTL name element that was no name (`surname "IVAN0V" is not a name`);
 * - a partner file's refusal for a first line that was no H record, which quoted the line, a detail's
 *   names and all (in the file's verdict and in its reject).
 *
 * Down leaves the messages: the values are gone, which is what up was for.
 */
import type { Knex } from 'knex';

/**
 * The personal columns of every feed's readers (parsers/members.ts, flown.ts, retro-claims.ts, partner.ts)
 * as they were when 053 was written: written out, not imported, since a migration must do the same
 * thing whatever later code marks personal (retention's ERASED_FIELDS holds the members' part of it).
 */
const PERSONAL_FIELDS = [
  'surname',
  'given_name',
  'surname_local',
  'given_name_local',
  'birth_date',
  'email',
  'phone',
  'passenger_surname',
  'passenger_given_name',
];

const FOUND = ', found "';
const NOT_H_RECORD = 'the file must start with an H record, found "';

/** The message without a quoted value, or undefined when it holds none this migration takes out. */
export function withoutPersonalValue(field: string, message: string): string | undefined {
  if (PERSONAL_FIELDS.includes(field) && message.includes(FOUND))
    return message.slice(0, message.indexOf(FOUND));
  if (/\bsurname "[^]*?" is not a name/.test(message))
    return message.replace(/\bsurname "[^]*?" is not a name/, 'the surname is not a name');
  if (/\bgiven name "[^]*?" is not a name/.test(message))
    return message.replace(/\bgiven name "[^]*?" is not a name/, 'a given name is not a name');
  if (message.includes(NOT_H_RECORD))
    return `${message.slice(0, message.indexOf(NOT_H_RECORD))}the file must start with an H record`;
  return undefined;
}

export async function up(knex: Knex): Promise<void> {
  // Only messages that may hold such a value are read: a LIKE on each shape, never the whole table.
  const rejects = await knex('rejects')
    .select('id', 'field', 'message')
    .where((q) =>
      q
        .where((p) => p.whereIn('field', PERSONAL_FIELDS).andWhere('message', 'like', `%${FOUND}%`))
        .orWhere('message', 'like', '%surname "%" is not a name%')
        .orWhere('message', 'like', '%given name "%" is not a name%')
        .orWhere('message', 'like', `%${NOT_H_RECORD}%`),
    );
  for (const r of rejects as Array<{ id: number; field: string; message: string }>) {
    const message = withoutPersonalValue(r.field, r.message);
    if (message !== undefined) await knex('rejects').where('id', r.id).update({ message });
  }
  const files = await knex('files').select('id', 'message').where('message', 'like', `%${NOT_H_RECORD}%`);
  for (const f of files as Array<{ id: number; message: string }>) {
    const message = withoutPersonalValue('*', f.message);
    if (message !== undefined) await knex('files').where('id', f.id).update({ message });
  }
}

export async function down(): Promise<void> {}
