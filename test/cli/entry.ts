// Runs the CLI from source, as bin/lsvd.js runs it from dist/: `node --import tsx test/cli/entry.ts ...`.
import { main } from '../../cli/main.js';

await main(process.argv);
