/**
 * A partner's results for our claims, read by a real night (rules/scenarios harness): what the accountant
 * is told when they do not answer the claims file they say they answer.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../test/harness/db.js';
import { useScenario, type Scenario } from '../rules/scenarios/scenario.js';
import { exportJob } from '../jobs/export.js';
import { writeResultsFile } from './alliance-xml.js';
import type { AllianceResult } from '../parsers/alliance.js';

const LH_CARD = (n: number) => `99200123456789${n}`;

/**
 * SCHMIDT flies on the 10th and WEBER on the 11th, both with an LH card, each listed by the FTL and his
 * flown coupon read that night: each night's claims file to LH carries one of them. Returns their claim ids.
 */
async function twoClaimsFiles(w: Scenario): Promise<{ schmidt: string; weber: string }> {
  const flyWithLhCard = async (date: string, surname: string, givenName: string, card: string) => {
    w.dropFtl({
      flight: 'XX245',
      date,
      board: 'SVO',
      groups: [{ dest: 'KZN', cls: 'Y', pax: [{ surname, givenName, card, program: 'LH' }] }],
    });
    w.dropCoupons([
      {
        ticket: `220100000000${card.slice(-1)}`,
        flight: '245',
        date,
        from: 'SVO',
        to: 'KZN',
        booked: 'Y',
        surname,
        givenName,
        card: { program: 'LH', number: card },
        fare: '100.00',
      },
    ]);
    await w.night(date);
    await w.run(exportJob, date);
  };
  await flyWithLhCard('2026-03-10', 'SCHMIDT', 'KLAUS', LH_CARD(0));
  await flyWithLhCard('2026-03-11', 'WEBER', 'ANNA', LH_CARD(2));
  const sent = (await w
    .knex('alliance_claims as c')
    .join('files as f', 'f.id', 'c.file_id')
    .where({ 'c.direction': 'OUT', 'c.partner_code': 'LH' })
    .orderBy('f.sequence')
    .select('c.claim_id', 'f.name', 'f.sequence')) as Array<{
    claim_id: string;
    name: string;
    sequence: number;
  }>;
  expect(sent.map((s) => [s.name, Number(s.sequence)])).toEqual([
    ['XX_LH_20260310_000001.claims.xml', 1],
    ['XX_LH_20260311_000002.claims.xml', 2],
  ]);
  return { schmidt: sent[0]!.claim_id, weber: sent[1]!.claim_id };
}

/** LH's results file, saying it answers our claims file `sequence`. */
function dropResults(
  w: Scenario,
  sequence: number,
  results: AllianceResult[],
  receiver = 'XX',
  answeredSender = 'XX',
): string {
  return w.drop(
    'alliance-results',
    writeResultsFile({
      sender: 'LH',
      receiver,
      createdAt: '2026-03-12T21:30:00Z',
      answers: { sender: answeredSender, receiver: 'LH', sequence },
      results,
    }),
    `LH_XX_${String(sequence).padStart(6, '0')}.results.xml`,
  );
}

const accepted = (claimId: string): AllianceResult => ({
  claimId,
  status: 'accepted',
  pointsCredited: 500,
  tierHeld: 'GOLD',
});

async function claimsNow(w: Scenario) {
  const rows = (await w
    .knex('alliance_claims')
    .where({ direction: 'OUT', partner_code: 'LH' })
    .orderBy('claim_id')
    .select('claim_id', 'status', 'points')) as Array<{ claim_id: string; status: string; points: unknown }>;
  return Object.fromEntries(
    rows.map((r) => [r.claim_id, [r.status, r.points === null ? null : Number(r.points)]]),
  );
}

async function resultsFile(w: Scenario, name: string) {
  const row = await w.knex('files').where({ direction: 'in', feed: 'alliance-results', name }).first();
  const rejects = await w.knex('rejects').where({ file_id: row.id }).select('reason');
  return { verdict: row.verdict, reason: row.reason, message: row.message, rejects: rejects.length };
}

for (const engine of availableEngines()) {
  describe(`a partner's results for our claims, read by a night (${engine})`, () => {
    const s = useScenario(engine);

    it('takes an answer by its claim id when the results name another claims file, and names the claim, the file it was sent in and both sequences', async () => {
      const w = s();
      const { schmidt, weber } = await twoClaimsFiles(w);
      const name = dropResults(w, 2, [accepted(schmidt)]);
      const night = await w.night('2026-03-12');

      // The partner's answer is real and the claim id is ours alone: it is kept, and said.
      expect(await claimsNow(w)).toEqual({ [schmidt]: ['ACCEPTED', 500], [weber]: ['SENT', null] });
      expect(await resultsFile(w, name)).toMatchObject({ verdict: 'accepted', rejects: 0 });
      const warnings = night.ingest.warnings ?? [];
      const otherFile = warnings.find((m) => m.includes(`claim ${schmidt}`));
      expect(otherFile).toMatch(
        new RegExp(
          `^${name} line 10, FileHeader/AnsweredFile/FileSequence: answers claims file ` +
            `XX_LH_20260311_000002\\.claims\\.xml \\(sequence 2\\), but claim ${schmidt} \\(line 13\\) was ` +
            `sent to LH in XX_LH_20260310_000001\\.claims\\.xml \\(sequence 1\\); its answer is applied all the same$`,
        ),
      );
      // The claim of file 2 the results do not answer is tied to them.
      expect(warnings.find((m) => m.includes(`not its claim ${weber}`))).toMatch(
        /answers claims file XX_LH_20260311_000002\.claims\.xml \(sequence 2\), but not its claim .* stays unanswered/,
      );
      expect(night.ingest.counts).toMatchObject({
        'alliance-results.matched': 1,
        'alliance-results.otherFile': 1,
        'alliance-results.leftUnanswered': 1,
      });
    });

    it('warns of results answering a claims file never sent to the partner, naming its sequence', async () => {
      const w = s();
      const { schmidt, weber } = await twoClaimsFiles(w);
      const name = dropResults(w, 99, [accepted(schmidt)]);
      const night = await w.night('2026-03-12');

      expect(await claimsNow(w)).toEqual({ [schmidt]: ['ACCEPTED', 500], [weber]: ['SENT', null] });
      expect(await resultsFile(w, name)).toMatchObject({ verdict: 'accepted', rejects: 0 });
      const warnings = night.ingest.warnings ?? [];
      expect(warnings).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^${name} line 10, FileHeader/AnsweredFile/FileSequence: answers claims file sequence 99, ` +
              'but no claims file of that sequence was sent to LH \\(the last sent is sequence 2\\)',
          ),
        ),
      );
      expect(warnings).toContainEqual(
        expect.stringContaining(
          `claim ${schmidt} (line 13) was sent to LH in XX_LH_20260310_000001.claims.xml (sequence 1)`,
        ),
      );
    });

    it('says nothing of results that answer the claims file they name', async () => {
      const w = s();
      const { schmidt, weber } = await twoClaimsFiles(w);
      dropResults(w, 1, [accepted(schmidt)]);
      const night = await w.night('2026-03-12');
      expect(await claimsNow(w)).toEqual({ [schmidt]: ['ACCEPTED', 500], [weber]: ['SENT', null] });
      expect((night.ingest.warnings ?? []).filter((m) => m.includes('.results.xml'))).toEqual([]);
    });

    it('refuses results addressed to another program: the claims file they answer is not ours', async () => {
      const w = s();
      const { schmidt, weber } = await twoClaimsFiles(w);
      const name = dropResults(w, 1, [accepted(schmidt)], 'YY', 'YY');
      await w.night('2026-03-12');
      expect(await claimsNow(w)).toEqual({ [schmidt]: ['SENT', null], [weber]: ['SENT', null] });
      expect(await resultsFile(w, name)).toEqual({
        verdict: 'rejected',
        reason: 'BAD_HEADER',
        message: 'FileHeader/ReceiverProgram: results addressed to YY, not to XX',
        rejects: 0,
      });
    });
  });
}
