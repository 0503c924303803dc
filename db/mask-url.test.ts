/**
 * A database URL in a message shows no password: not in the user information, whatever characters the
 * password holds unescaped, and not in a query parameter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskUrl } from './connection.js';

describe('maskUrl', () => {
  it('masks the password up to the last @, as the URL parser reads it', () => {
    expect(maskUrl('postgres://redeye:Pa@ssSecret@127.0.0.1:1/redeye')).toBe(
      'postgres://redeye:***@127.0.0.1:1/redeye',
    );
    expect(maskUrl('postgresql://u:p%40ss@db.example:5432/x?schema=s')).toBe(
      'postgresql://u:***@db.example:5432/x?schema=s',
    );
    // No password: nothing to mask, the host's port is not one.
    expect(maskUrl('postgres://u@db.example:5432/x')).toBe('postgres://u@db.example:5432/x');
    expect(maskUrl('sqlite:./var/redeye.sqlite')).toBe('sqlite:./var/redeye.sqlite');
  });

  it('masks a password given as a query parameter', () => {
    expect(maskUrl('postgres://127.0.0.1:1/redeye?password=PassSecret')).toBe(
      'postgres://127.0.0.1:1/redeye?password=***',
    );
    expect(maskUrl('postgres://h/db?application_name=r&sslpassword=k3y&PASSWORD=x')).toBe(
      'postgres://h/db?application_name=r&sslpassword=***&PASSWORD=***',
    );
  });

  it('property: no password, of any characters, is shown', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }).filter((p) => !p.includes('***')),
        fc.constantFrom('', '?schema=redeye', '?password=', '#x'),
        (password, tail) => {
          const shown = maskUrl(`postgres://redeye:${password}@db.example:5432/redeye${tail}`);
          expect(shown).toBe(
            `postgres://redeye:***@db.example:5432/redeye${tail.replace('password=', 'password=***')}`,
          );
        },
      ),
    );
  });
});
