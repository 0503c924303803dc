#!/usr/bin/env node
// The CLI is compiled by `npm run build`; this shim keeps `bin` stable whatever the output layout.

// Loading the program takes a second or two. A stop asked for in that time would otherwise end the
// process at once, with no word; nothing has run yet, so it ends here, saying so. The daemon's stop is a
// clean one (exit 0), as it is once running; a run that never started has not done its work (exit 1).
const stopWhileLoading = (signal) => {
  console.error(`redeye: stopped on request (${signal}) while starting: nothing was run`);
  process.exit(process.argv.includes('schedule') ? 0 : 1);
};
process.once('SIGINT', stopWhileLoading);
process.once('SIGTERM', stopWhileLoading);

import('../dist/cli/main.js')
  .then((m) => {
    process.off('SIGINT', stopWhileLoading);
    process.off('SIGTERM', stopWhileLoading);
    return m.main(process.argv);
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
