/**
 * The export job: everything Redeye sends for a business date, written into `paths.outbox/<kind>/` and
 * registered for the deliver job (exporters/outbox.ts explains how a file is written and why a rerun is
 * byte-identical and registers nothing twice).
 *
 * Every night:
 * - a response to every partner CSV file and every hotel OTA file processed that night (or earlier and
 *   not answered yet because records were still pending);
 * - per partner airline, the day's outbound claims file, and a results file for every inbound claims file;
 * - the daily mailing lists configured in `exports.mailings.kinds`.
 * On the last day of the month, in addition: the IS-XML invoice transmission and one CSV statement per
 * invoiced partner, and the balance statement mailing list.
 *
 * One export that fails does not stop the others: the job writes all it can, then fails naming each
 * failure. Files whose records the accrue job has not decided yet, files that cannot be answered (no
 * partner, a claims file refused whole) and claims without an answer after `exports.alliance.resultsDueDays`
 * are reported as warnings.
 */
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { MailingKind, PartnerConfig } from '../config/schema.js';
import { endOfMonth, type IsoDate } from '../lib/dates.js';
import { coerceError, type RedeyeError } from '../lib/errors.js';
import {
  allianceClaimsName,
  allianceResultsName,
  claimFor,
  claimsSentIn,
  claimsSequenceScope,
  markInboundAnswered,
  passengersWaiting,
  recordClaims,
  resultsData,
  unansweredAllianceClaims,
  unclaimedPassengers,
  type ClaimRecord,
} from '../exporters/alliance.js';
import { writeClaimsFile, writeResultsFile, type AllianceClaim } from '../exporters/alliance-xml.js';
import {
  billingMonth,
  earlierBills,
  invoiceDocuments,
  keepLines,
  partnerCredits,
  type InvoiceDocument,
  type StatementOf,
} from '../exporters/billing.js';
import { ExportError } from '../exporters/errors.js';
import { buildHotelStayResponse } from '../exporters/hotel-response.js';
import { buildInvoiceStatement, buildInvoiceTransmission, type InvoiceInput } from '../exporters/isxml.js';
import {
  keepTierChanges,
  mailingCsv,
  mailingName,
  mailingPolicy,
  mailingRows,
  mailingXml,
  tierChangeList,
  type CutField,
} from '../exporters/mailings.js';
import {
  exportKey,
  findExport,
  Outbox,
  awaitingDelivery,
  type ExportSpec,
  type PreparedExport,
  type WriteOutcome,
} from '../exporters/outbox.js';
import { partnerResponseChunks, type ResponseTotals } from '../exporters/partner-response.js';
import {
  hotelResponseData,
  inboundFilesToAnswer,
  partnerFromFileName,
  partnerResponseSource,
  responseNames,
  responseNameShortened,
  type InboundFile,
} from '../exporters/responses.js';
import { Program } from '../rules/program.js';
import { StepIncompleteError, type Job, type JobContext, type JobResult } from './types.js';

/** Export problems that are facts to report, not failures of the job. */
const REPORTED = new Set(['NOT_READY', 'NO_PARTNER', 'NOT_ANSWERABLE']);

export const DAILY_MAILINGS: readonly MailingKind[] = [
  'EXPIRY_WARNING',
  'TIER_CHANGE',
  'INCOMPLETE_REGISTRATION',
  'ACCOUNT_CLOSURE',
];

interface Task {
  label: string;
  run: () => Promise<void>;
}

class ExportRun {
  readonly counts: Record<string, number> = {};
  readonly warnings: string[] = [];
  readonly failures: RedeyeError[] = [];
  readonly outbox: Outbox;
  readonly date: IsoDate;
  readonly config: LoadedConfig;

  constructor(readonly ctx: JobContext) {
    this.date = ctx.businessDate;
    this.config = ctx.config;
    this.outbox = new Outbox(ctx.db, { root: ctx.config.paths.outbox, now: ctx.now });
  }

  add(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }

  async write(spec: ExportSpec, counter: string): Promise<WriteOutcome> {
    const outcome = await this.outbox.write(spec);
    this.add(counter);
    this.add(outcome.status);
    if (outcome.status === 'replaced') {
      this.warnings.push(
        `${outcome.name}: rebuilt with different content before delivery; the new version replaces it`,
      );
    } else if (outcome.status === 'reinstated') {
      this.warnings.push(
        `${outcome.name}: withdrawn before delivery, and has something to send again: written anew under its name and sequence`,
      );
    } else if (outcome.status === 'drifted') {
      this.warnings.push(
        `${outcome.name}: already delivered, and rebuilding it now gives different content (the data changed after delivery); the delivered version stands`,
      );
    }
    this.ctx.logger.debug({ export: spec.key, file: outcome.name, status: outcome.status }, 'export');
    return outcome;
  }

  /** Withdraws an export not delivered that has nothing to send any more (exporters/outbox.ts). */
  async withdraw(key: string, why: string): Promise<void> {
    const outcome = await this.outbox.withdraw(key, why, this.date);
    if (outcome?.status !== 'withdrawn') return;
    this.add('withdrawn');
    this.warnings.push(`${outcome.name}: withdrawn before delivery, not to be sent: ${why}`);
    this.ctx.logger.debug({ export: key, file: outcome.name, status: outcome.status }, 'export');
  }

  async attempt(task: Task): Promise<void> {
    try {
      await task.run();
    } catch (error) {
      const e = coerceError(error, { job: 'export', businessDate: this.date });
      if (REPORTED.has(e.code)) {
        this.add(e.code === 'NOT_READY' ? 'notReady' : 'notAnswerable');
        this.warnings.push(`${task.label}: ${e.message}`);
      } else {
        this.add('failed');
        e.message = `${task.label}: ${e.message}`;
        this.failures.push(e);
      }
    }
  }

  partner(code: string | null): PartnerConfig | undefined {
    return code === null ? undefined : this.config.partners.find((p) => p.code === code);
  }

  // -------------------------------------------------------------------------------------------- responses

  partnerResponse(file: InboundFile): Task {
    return {
      label: `response to partner file ${file.name}`,
      run: async () => {
        const partnerCode = file.partnerCode ?? partnerFromFileName(file.name)?.partnerCode ?? null;
        if (partnerCode === null) {
          throw new ExportError(
            'NO_PARTNER',
            `no partner code in the file's header or name: it cannot be answered`,
            {
              file: file.name,
            },
          );
        }
        const names = responseNames({ ...file, feed: 'partner' }, this.date);
        const outcome = await this.write(
          {
            kind: 'partner-response',
            key: exportKey('partner-response', partnerCode, `file=${file.id}`),
            partnerCode,
            businessDate: this.date,
            answersFileId: file.id,
            sequenceScope: `partner-response:${partnerCode}`,
            name: () => names[0]!,
            otherNames: () => names.slice(1),
            prepare: async (q, stamp): Promise<PreparedExport> => {
              const source = await partnerResponseSource(q, { ...file, partnerCode }, stamp.timestamp);
              const counts: Partial<ResponseTotals> = {};
              return { content: partnerResponseChunks(source.header, source.records, counts), counts };
            },
          },
          'partnerResponses',
        );
        this.answeredUnderOwnName(outcome, file, partnerCode);
        this.answeredUnderShortenedName(outcome, { ...file, feed: 'partner' }, partnerCode);
      },
    };
  }

  /**
   * Every hotel document processed is answered (ota-hotel-stay.md). One whose partner neither it nor its
   * name identifies (an unknown chain: refused UNKNOWN_PARTNER) has no partner outbox and no partner
   * counter: its `<Errors>` go to the shared outbox's hotel-response folder, without SequenceNmbr.
   */
  hotelResponse(file: InboundFile): Task {
    return {
      label: `response to hotel file ${file.name}`,
      run: async () => {
        const partnerCode = file.partnerCode;
        const names = responseNames({ ...file, feed: 'hotel' }, this.date);
        const outcome = await this.write(
          {
            kind: 'hotel-response',
            key: exportKey('hotel-response', partnerCode, `file=${file.id}`),
            partnerCode,
            businessDate: this.date,
            answersFileId: file.id,
            sequenceScope: partnerCode === null ? null : `hotel-response:${partnerCode}`,
            name: () => names[0]!,
            otherNames: () => names.slice(1),
            prepare: async (q, stamp) => {
              const data = await hotelResponseData(q, file, stamp);
              return {
                content: buildHotelStayResponse(data),
                counts: { warnings: data.warnings?.length ?? 0, errors: data.error ? 1 : 0 },
              };
            },
          },
          'hotelResponses',
        );
        this.answeredUnderOwnName(outcome, file, partnerCode);
        this.answeredUnderShortenedName(outcome, { ...file, feed: 'hotel' }, partnerCode);
      },
    };
  }

  /**
   * A response first written under another name than its request's, that name being an earlier
   * response's: the partner may look for its request's own name, so the operator tells it.
   */
  answeredUnderOwnName(outcome: WriteOutcome, file: InboundFile, partnerCode: string | null): void {
    const taken = outcome.nameTakenBy;
    if (outcome.status !== 'written' || !taken) return;
    this.warnings.push(
      `${outcome.name}: the response to ${file.name} (file ${file.id}), under a name of its own: ` +
        `${taken.name} is already file ${taken.fileId} (${taken.key ?? 'no export key'}), never written over; ` +
        `tell ${partnerCode ?? 'the hotel'} that ${outcome.name} answers the ${file.name} received on ${file.businessDate}`,
    );
  }

  /**
   * A response whose request's name leaves no room for `.resp.csv`/`.resp.xml` within a file name's 255
   * bytes is answered under that name cut short (`responseNames`): the partner looking for its request's
   * own response name would not find it, so the operator tells it which file answers.
   */
  answeredUnderShortenedName(
    outcome: WriteOutcome,
    file: InboundFile & { feed: 'partner' | 'hotel' },
    partnerCode: string | null,
  ): void {
    if (outcome.status !== 'written' || !responseNameShortened(file)) return;
    this.warnings.push(
      `${outcome.name}: the response to ${file.name} (file ${file.id}), whose name leaves no room for the response's ` +
        `own within a file name's 255 bytes: written under that name shortened; tell ${partnerCode ?? 'the hotel'} ` +
        `that ${outcome.name} answers the ${file.name} received on ${file.businessDate}`,
    );
  }

  // -------------------------------------------------------------------------------------------- alliance

  claimsFile(partner: PartnerConfig & { program: string }): Task {
    const sender = this.config.program.code;
    const receiver = partner.program;
    return {
      label: `claims file to ${partner.code}`,
      run: async () => {
        // Passengers that cannot be claimed are reported only once the file that skipped them is registered.
        let invalid: string[] = [];
        let waiting = 0;
        const program = new Program(this.config);
        const wait = this.config.exports.alliance.couponWaitDays;
        const outcome = await this.write(
          {
            kind: 'alliance-claims',
            key: exportKey('alliance-claims', partner.code, this.date),
            partnerCode: partner.code,
            businessDate: this.date,
            sequenceScope: claimsSequenceScope(sender, receiver),
            name: (stamp) => allianceClaimsName(sender, receiver, this.date, stamp.sequence!),
            prepare: async (q, stamp, fileId): Promise<PreparedExport> => {
              const header = { sender, receiver, sequence: stamp.sequence!, createdAt: stamp.timestamp };
              if (fileId !== null) {
                const claims = await claimsSentIn(q, fileId);
                // Counted as the first run counts them, without judging anyone again.
                waiting = await passengersWaiting(q, partner.code, this.date, program, wait);
                return { content: writeClaimsFile({ ...header, claims }), counts: { claims: claims.length } };
              }
              // Only flights one of the program's own carriers operated or marketed are claimed. Asked only
              // for a file first written: a rerun rebuilds what was sent, and marks nothing outside its write.
              const passengers = await unclaimedPassengers(q, partner.code, this.date, program, wait);
              waiting = passengers.waiting.length;
              const records: ClaimRecord[] = [];
              const claims: AllianceClaim[] = [];
              invalid = [];
              for (const passenger of passengers.due) {
                const made = claimFor(passenger, sender, receiver);
                if (made.claim) {
                  claims.push(made.claim);
                  records.push({
                    activityKey: passenger.activityKey,
                    claimId: made.claim.claimId,
                    claim: made.claim,
                    status: 'SENT',
                    reason: null,
                  });
                  continue;
                }
                records.push({
                  activityKey: passenger.activityKey,
                  claimId: `${sender}-${passenger.id}`,
                  claim: passenger,
                  status: 'INVALID',
                  reason: `MALFORMED:${made.problem.field}`.slice(0, 48),
                });
                invalid.push(
                  `claim for ${partner.code} passenger (activity ${passenger.id}, ${passenger.date} ${passenger.carrier ?? '?'}${passenger.flightNumber ?? ''}) not sent: ${made.problem.message}`,
                );
              }
              return {
                content: writeClaimsFile({ ...header, claims }),
                counts: { claims: claims.length, invalid: invalid.length },
                afterInsert: (trx, id) => recordClaims(trx, partner.code, this.date, id, records),
              };
            },
          },
          'claimsFiles',
        );
        this.add('claims', outcome.counts.claims ?? 0);
        // Not claimed, not lost: the passengers a later night's file claims, unless their coupon joins them
        // to our card.
        this.add('claimsWaiting', waiting);
        if (outcome.status === 'written') {
          this.add('invalidClaims', invalid.length);
          this.warnings.push(...invalid);
        }
      },
    };
  }

  resultsFile(file: InboundFile): Task {
    const receiverOfClaims = this.config.program.code;
    return {
      label: `results for claims file ${file.name}`,
      run: async () => {
        const partner = this.partner(file.partnerCode);
        if (!partner?.program || file.sequence === null) {
          throw new ExportError(
            'NO_PARTNER',
            `claims file from ${file.partnerCode ?? 'an unknown sender'} without a configured partner airline or a file sequence: it cannot be answered`,
            { file: file.name, partner: file.partnerCode ?? undefined },
          );
        }
        const program = partner.program;
        const answers = { sender: program, receiver: receiverOfClaims, sequence: file.sequence };
        // Files accepted under this file's sequence before it (stored before ingest refused a repeat): each
        // is answered under a name of its own, or this one would stop on the first one's name every night.
        const before = await this.ctx.db
          .knex('files')
          .where({
            direction: 'in',
            feed: 'alliance-claims',
            partner_code: partner.code,
            verdict: 'accepted',
            sequence: file.sequence,
          })
          .where('id', '<', file.id)
          .orderBy('id')
          .select('id', 'name');
        const name = allianceResultsName(answers, before.length + 1);
        const outcome = await this.write(
          {
            kind: 'alliance-results',
            key: exportKey('alliance-results', partner.code, `file=${file.id}`),
            partnerCode: partner.code,
            businessDate: this.date,
            answersFileId: file.id,
            sequenceScope: null,
            name: () => name,
            prepare: async (q, stamp) => {
              const data = await resultsData(q, file, program, receiverOfClaims, this.date);
              return {
                content: writeResultsFile({
                  sender: receiverOfClaims,
                  receiver: program,
                  createdAt: stamp.timestamp,
                  answers: data.answers,
                  results: data.results,
                }),
                counts: { results: data.results.length },
                afterInsert: (trx, id) =>
                  markInboundAnswered(trx, partner.code, data.claimIds, id, this.date),
              };
            },
          },
          'resultsFiles',
        );
        if (before.length > 0 && outcome.status === 'written') {
          const first = before[0]!;
          this.warnings.push(
            `${name}: answers ${file.name} (file ${file.id}), which ${partner.code} sent under sequence ${file.sequence} already used by ${String(first.name)} (file ${Number(first.id)}, answered in ${allianceResultsName(answers)}); both results files answer sequence ${file.sequence}: tell ${partner.code} which of its files each answers`,
          );
        }
      },
    };
  }

  // -------------------------------------------------------------------------------------------- month end

  invoices(): Task {
    return {
      label: `invoices for ${this.date.slice(0, 7)}`,
      run: async () => {
        const credits = await partnerCredits(this.ctx.db.knex, `${this.date.slice(0, 7)}-01`, this.date);
        // The month's first transmission keeps the key it always had; each supplementary one has its own.
        const transmissionKeyOf = (billed: string, k: number) =>
          exportKey('invoice', null, k === 1 ? billed : `${billed}#${k}`);
        // A partner's invoice keeps the statement key it always had; each adjustment has a statement of its own.
        const statementKeyOf = (billed: string, d: StatementOf) =>
          exportKey(
            'invoice-statement',
            d.partnerCode,
            d.adjusts === null ? billed : `${billed}#${d.invoiceNumber}`,
          );
        const deliveredExport = async (q: Knex, key: string) => {
          const row = await findExport(q, key);
          return row !== undefined && !awaitingDelivery(row);
        };
        const knex = this.ctx.db.knex;
        const month = billingMonth(
          this.config,
          this.date,
          credits,
          await earlierBills(
            knex,
            this.config,
            credits,
            (billed, k) => deliveredExport(knex, transmissionKeyOf(billed, k)),
            (billed, d) => deliveredExport(knex, statementKeyOf(billed, d)),
          ),
        );
        for (const u of month.unbilled) {
          this.warnings.push(
            `partner ${u.partnerCode}: ${u.points} points credited in ${month.month} but no billing identity is configured: not invoiced`,
          );
        }
        const issuer = this.config.exports.invoices.issuingOrganizationId;
        const safeIssuer = issuer.replace(/[^A-Za-z0-9-]/g, '_');
        const yyyymm = month.month.replace('-', '');
        const transmissionKey = (k: number) => transmissionKeyOf(month.month, k);
        const statementKey = (d: StatementOf) => statementKeyOf(month.month, d);
        // Numbers, and the transmission carrying each, given before the files are written: a failed
        // write keeps them, and its rerun reads them. Taken even when nobody is invoiced any more, so
        // that drafts of invoices that have come to nothing are withdrawn below.
        const documents = await this.ctx.db.transaction((trx) => {
          // Whether a transmission was delivered, then what it carried: one read of its row for both.
          const rows = new Map<number, ReturnType<typeof findExport>>();
          const transmissionRow = (k: number) => {
            if (!rows.has(k)) rows.set(k, findExport(trx, transmissionKey(k)));
            return rows.get(k)!;
          };
          return invoiceDocuments(
            trx,
            this.config,
            month,
            this.date,
            async (k) => {
              const row = await transmissionRow(k);
              return row !== undefined && !awaitingDelivery(row);
            },
            // A statement the partner has fixes its figures as a delivered transmission does.
            (d) => deliveredExport(trx, statementKey(d)),
            async (k) => {
              const row = await transmissionRow(k);
              return row && this.outbox.registeredContent(row);
            },
          );
        });
        for (const d of documents.filter((x) => x.unadjusted !== null)) {
          this.warnings.push(
            `${d.partnerCode} ${d.invoiceNumber}: ${month.month} has changed since its delivery, but ${d.unadjusted}: an adjustment is billed only in its invoice's currency, to its buyer, so the difference is not billed (see README, Adjustments)`,
          );
        }
        // In the order the numbers were given: a document numbered late comes after those numbered before it.
        const invoices = documents.filter(
          (d): d is InvoiceDocument & { invoice: InvoiceInput; transmission: number } =>
            d.invoice !== null && d.transmission !== null,
        );
        const sent = new Set<number>();
        for (const k of [...new Set(invoices.map((d) => d.transmission))].sort((a, b) => a - b)) {
          const carried = invoices.filter((d) => d.transmission === k);
          sent.add(k);
          const outcome = await this.write(
            {
              kind: 'invoice',
              key: transmissionKey(k),
              partnerCode: null,
              businessDate: this.date,
              sequenceScope: `invoice:${issuer}`,
              name: (stamp) => `${safeIssuer}_ISXML_${yyyymm}_${String(stamp.sequence).padStart(4, '0')}.xml`,
              prepare: async (_q, stamp) => ({
                content: buildInvoiceTransmission({
                  transmissionId: `${issuer}-${yyyymm}-${String(stamp.sequence).padStart(4, '0')}`,
                  transmissionDateTime: stamp.timestamp,
                  issuingOrganizationId: issuer,
                  invoices: carried.map((d) => d.invoice),
                }),
                counts: { invoices: carried.length },
                keep: (trx) => keepLines(trx, carried),
              }),
            },
            'transmissions',
          );
          if (outcome.status !== 'drifted') continue;
          for (const d of documents.filter((x) => x.transmission === k && x.unkept)) {
            this.warnings.push(
              `${d.partnerCode} ${d.invoiceNumber}: delivered before Redeye kept what each invoice carried (migration 025), so a change to ${month.month} since cannot be billed as an adjustment`,
            );
          }
        }
        // A draft left carrying no invoice would bill, once delivered, invoices that came to nothing. A
        // supplementary transmission is made only once the one before it is delivered, so the month's
        // transmissions are registered under consecutive keys from the first. A transmission delivered
        // whose documents all have nothing to carry now (delivered before 025, not invoiced now) stands.
        // A partner no longer invoiced whose number a delivered transmission carries keeps its statement:
        // it is of the invoice the clearing house has.
        const dropped = documents.filter((d) => d.transmission === null);
        const droppedText = dropped.map((d) => `${d.partnerCode} ${d.invoiceNumber}`).join(', ');
        for (let k = 1; (await findExport(this.ctx.db.knex, transmissionKey(k))) !== undefined; k++) {
          if (sent.has(k)) continue;
          await this.withdraw(
            transmissionKey(k),
            `every invoice of ${month.month} it carried has come to nothing (not invoiced now: ${droppedText}); each number stays its partner's`,
          );
        }
        for (const d of dropped) {
          await this.withdraw(
            statementKey(d),
            d.adjusts === null
              ? `${d.partnerCode} has nothing left to invoice for ${month.month}; its invoice number ${d.invoiceNumber} stays its own`
              : `${d.partnerCode}'s ${month.month} has come back to what invoice ${d.adjusts} and its delivered adjustments billed; adjustment number ${d.invoiceNumber} stays its own`,
          );
        }
        this.add('invoices', invoices.length);
        for (const d of invoices) {
          await this.attempt({
            label: `statement of ${d.invoiceNumber} for ${d.partnerCode} ${month.month}`,
            run: async () => {
              await this.write(
                {
                  kind: 'invoice-statement',
                  key: statementKey(d),
                  partnerCode: d.partnerCode,
                  businessDate: this.date,
                  sequenceScope: `invoice-statement:${d.partnerCode}`,
                  name: () =>
                    d.adjusts === null
                      ? `${d.partnerCode}_STATEMENT_${yyyymm}.csv`
                      : `${d.partnerCode}_STATEMENT_${yyyymm}_${d.invoiceNumber}.csv`,
                  prepare: async () => ({
                    content: buildInvoiceStatement(d.invoice, { start: month.start, end: month.end }),
                    counts: { lines: d.invoice.lines.length },
                  }),
                },
                'statements',
              );
            },
          });
        }
      },
    };
  }

  // -------------------------------------------------------------------------------------------- mailings

  mailing(kind: MailingKind): Task {
    const { format } = this.config.exports.mailings;
    const policy = mailingPolicy(this.config);
    return {
      label: `${kind} mailing list`,
      run: async () => {
        let cut: CutField[] = [];
        const outcome = await this.write(
          {
            kind: 'mailing',
            key: exportKey('mailing', null, `${kind}:${this.date}`),
            partnerCode: null,
            businessDate: this.date,
            sequenceScope: `mailing:${kind}`,
            name: () => mailingName(kind, this.date, format),
            prepare: async (q, stamp, fileId) => {
              const counter: { recipients?: number } = {};
              // A list prepared twice (its first write lost a race to another) reports once.
              cut = [];
              // Which tier events the list takes, fixed before it is built so that it records as taken
              // exactly what it carries (README, Mailing lists).
              const list = kind === 'TIER_CHANGE' ? await tierChangeList(q, fileId) : undefined;
              const rows = mailingRows(q, kind, this.date, policy, list);
              const content =
                format === 'csv'
                  ? mailingCsv(kind, rows, counter)
                  : mailingXml(
                      {
                        program: this.config.program.code,
                        kind,
                        businessDate: this.date,
                        sequence: stamp.sequence,
                        createdAt: stamp.timestamp,
                      },
                      rows,
                      counter,
                      (c) => cut.push(c),
                    );
              return {
                content,
                counts: counter as Record<string, number>,
                keep: list && ((trx, id) => keepTierChanges(trx, this.date, list, id)),
              };
            },
          },
          'mailingLists',
        );
        this.add('recipients', outcome.counts.recipients ?? 0);
        for (const c of cut) {
          this.warnings.push(
            `${outcome.name}: ${kind} to member ${c.memberNumber}: ${c.field} of ${c.length} characters written cut to the ${c.maxLength} the XML list allows; the CRM should shorten it`,
          );
        }
      },
    };
  }

  // -------------------------------------------------------------------------------------------- the night

  async tasks(): Promise<Task[]> {
    const knex = this.ctx.db.knex;
    const tasks: Task[] = [];
    for (const f of await inboundFilesToAnswer(knex, 'partner', 'partner-response', this.date)) {
      tasks.push(this.partnerResponse(f));
    }
    for (const f of await inboundFilesToAnswer(knex, 'hotel', 'hotel-response', this.date)) {
      tasks.push(this.hotelResponse(f));
    }
    for (const p of this.config.partners) {
      if (p.kind === 'airline' && p.program)
        tasks.push(this.claimsFile(p as PartnerConfig & { program: string }));
    }
    for (const f of await inboundFilesToAnswer(knex, 'alliance-claims', 'alliance-results', this.date, [
      'accepted',
    ])) {
      tasks.push(this.resultsFile(f));
    }
    const monthEnd = this.date === endOfMonth(this.date);
    if (monthEnd) tasks.push(this.invoices());
    const kinds = new Set(this.config.exports.mailings.kinds);
    for (const kind of DAILY_MAILINGS) if (kinds.has(kind)) tasks.push(this.mailing(kind));
    if (monthEnd && kinds.has('BALANCE_STATEMENT')) tasks.push(this.mailing('BALANCE_STATEMENT'));
    return tasks;
  }

  async overdueClaims(): Promise<void> {
    const overdue = await unansweredAllianceClaims(this.ctx.db.knex, {
      asOf: this.date,
      dueDays: this.config.exports.alliance.resultsDueDays,
    });
    this.counts.overdueClaims = overdue.length;
    const byPartner = new Map<string, number>();
    for (const c of overdue) byPartner.set(c.partnerCode, (byPartner.get(c.partnerCode) ?? 0) + 1);
    for (const [partner, n] of byPartner) {
      this.warnings.push(
        `${n} claim(s) sent to ${partner} have had no result for ${this.config.exports.alliance.resultsDueDays} days or more`,
      );
    }
  }
}

export const exportJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const run = new ExportRun(ctx);
  const tasks = await run.tasks();
  ctx.progress.start('exports', tasks.length);
  for (const task of tasks) {
    if (ctx.signal?.aborted) {
      run.warnings.push('stopped on request before all exports were written; a rerun completes them');
      break;
    }
    await run.attempt(task);
    ctx.progress.increment();
  }
  ctx.progress.stop();
  await run.overdueClaims();
  // Stopped on request: the runner records the step as interrupted, as deliver does; what failed before
  // the request is kept among the warnings rather than recorded as the step's failure.
  if (ctx.signal?.aborted) run.warnings.push(...run.failures.map((f) => `export failed: ${f.describe()}`));
  for (const w of run.warnings) ctx.logger.warn({ job: 'export', businessDate: ctx.businessDate }, w);
  if (run.failures.length > 0 && !ctx.signal?.aborted) {
    ctx.logger.error({ job: 'export', counts: run.counts }, 'exports failed');
    throw new StepIncompleteError(
      'EXPORT_FAILED',
      `${run.failures.length} export(s) failed for ${ctx.businessDate}: ${run.failures.map((f) => f.describe()).join('; ')}`,
      { counts: run.counts, warnings: run.warnings },
      { job: 'export', businessDate: ctx.businessDate },
      { cause: run.failures[0] },
    );
  }
  return { counts: run.counts, warnings: run.warnings };
};
