/**
 * `npm run bench -- <name> [options]`: runs one benchmark. Each prints its figures and the
 * machine-independent ratio it is judged by (against a floor measured in the same run).
 */
const benches: Record<string, () => Promise<{ default: (args: string[]) => Promise<void> }>> = {
  ledger: () => import('./ledger.js'),
  parsers: () => import('./parsers.js'),
  reports: () => import('./reports.js'),
  accrue: () => import('./accrue.js'),
  nightly: () => import('./nightly.js'),
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const load = name ? benches[name] : undefined;
  if (!load) {
    console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]`);
    process.exit(2);
  }
  const mod = await load();
  await mod.default(args);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
