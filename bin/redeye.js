#!/usr/bin/env node
// The CLI is compiled by `npm run build`; this shim keeps `bin` stable whatever the output layout.
import('../dist/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
