#!/usr/bin/env node
// The only place that ends the process: the CLI returns an exit code.
import { main } from "../dist/cli.js";

const code = await main(process.argv);
process.exit(code);
