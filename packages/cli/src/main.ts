// The `maskedssl` command: pretrain | eval | embed | export | bench | info | setup. Errors print one line
// (`maskedssl <command>: <what is wrong>`); usage errors exit 2, other failures 1. Run as a program
// (through npm's bin link, `node dist/main.js` or `tsx src/main.ts`), it runs the command in a child
// process whose stderr drops native start-up logs (quiet.ts) unless --verbose or MASKEDSSL_VERBOSE.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchCommand, benchHelp } from './commands/bench.js';
import { embedCommand, embedHelp } from './commands/embed.js';
import { evalCommand, evalHelp } from './commands/eval.js';
import { exportCommand, exportHelp } from './commands/export.js';
import { infoCommand, infoHelp } from './commands/info.js';
import { pretrainCommand, pretrainHelp } from './commands/pretrain.js';
import { setupCommand, setupHelp } from './commands/setup.js';
import { UsageError } from './errors.js';
import { registerMethods } from './methods.js';
import { CHILD_ENV, runFiltered, wantsVerbose } from './quiet.js';

const commands: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  pretrain: { run: pretrainCommand, help: pretrainHelp },
  eval: { run: evalCommand, help: evalHelp },
  embed: { run: embedCommand, help: embedHelp },
  export: { run: exportCommand, help: exportHelp },
  bench: { run: benchCommand, help: benchHelp },
  info: { run: infoCommand, help: infoHelp },
  setup: { run: setupCommand, help: setupHelp },
};

const usage = `usage: maskedssl <command> [flags]   (maskedssl <command> --help for its flags)
commands: ${Object.keys(commands).join(', ')}
--verbose (any command) keeps TensorFlow's and Dawn's start-up log lines (also MASKEDSSL_VERBOSE=1)`;

/** Runs one command; `--verbose` anywhere is taken out (it is the program's, see runAsProgram). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv.filter((a) => a !== '--verbose');
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage + '\n');
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`maskedssl: unknown command '${name}'\n${usage}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  registerMethods();
  try {
    return await command.run(rest);
  } catch (e) {
    process.stderr.write(`maskedssl ${name}: ${(e as Error).message.split('\n')[0]}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

/** Whether `script` (process.argv[1]) is this file, through symlinks (npm's bin link) included. */
export function isThisFile(script: string | undefined, self = fileURLToPath(import.meta.url)): boolean {
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(self);
  } catch {
    return false;
  }
}

/**
 * The program: the command in a filtered child process (this file again, with this process's Node
 * flags, e.g. tsx's loader), or in this process when the logs are wanted or this is that child.
 */
export async function runAsProgram(argv: string[]): Promise<number> {
  if (process.env[CHILD_ENV] !== undefined || wantsVerbose(argv)) return main(argv);
  return runFiltered([...process.execArgv, fileURLToPath(import.meta.url), ...argv]);
}

if (isThisFile(process.argv[1])) {
  runAsProgram(process.argv.slice(2)).then((code) => process.exit(code));
}
