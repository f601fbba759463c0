// `interceptd doctor [--json] [--state-dir DIR] [--config-dir DIR]`.

import { parseArgs } from 'node:util';
import { evaluate, exitStatus, renderText } from './checks.js';
import { gatherFacts } from './host.js';

export const DOCTOR_USAGE = `Usage: interceptd doctor [--json] [--state-dir DIR] [--config-dir DIR]

Checks what interceptd needs from this host and explains each answer, one line per
check: ok, warn or FAIL. FAIL marks what the daemon cannot run without (seccomp user
notification, CONTINUE, pidfd_open, the keeper and a runnable helper); the exit status
is then 1. Warnings name features that are missing and what stops working without them.
Run it as root, with the same directories as \`serve\`.

Options:
  --json              print an array of {check, verdict, detail}
  --state-dir DIR     default /run/interceptd
  --config-dir DIR    default /etc/interceptd`;

/** Runs every check, prints the result, and returns the exit status. */
export async function doctor(argv: string[], defaults: { stateDir: string; configDir: string }): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      'state-dir': { type: 'string', default: defaults.stateDir },
      'config-dir': { type: 'string', default: defaults.configDir },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(DOCTOR_USAGE);
    return 0;
  }
  const facts = await gatherFacts({ stateDir: values['state-dir']!, configDir: values['config-dir']! });
  const results = evaluate(facts);
  console.log(values.json ? JSON.stringify(results, null, 2) : renderText(results));
  return exitStatus(results);
}
