// The `maskedssl` command: pretrain | eval | embed | export | bench | info. Errors print one line
// (`maskedssl <command>: <what is wrong>`); usage errors exit 2, other failures 1.
import { pathToFileURL } from 'node:url';
import { benchCommand, benchHelp } from './commands/bench.js';
import { embedCommand, embedHelp } from './commands/embed.js';
import { evalCommand, evalHelp } from './commands/eval.js';
import { exportCommand, exportHelp } from './commands/export.js';
import { infoCommand, infoHelp } from './commands/info.js';
import { pretrainCommand, pretrainHelp } from './commands/pretrain.js';
import { UsageError } from './errors.js';
import { registerMethods } from './methods.js';

const commands: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  pretrain: { run: pretrainCommand, help: pretrainHelp },
  eval: { run: evalCommand, help: evalHelp },
  embed: { run: embedCommand, help: embedHelp },
  export: { run: exportCommand, help: exportHelp },
  bench: { run: benchCommand, help: benchHelp },
  info: { run: infoCommand, help: infoHelp },
};

const usage = `usage: maskedssl <command> [flags]   (maskedssl <command> --help for its flags)
commands: ${Object.keys(commands).join(', ')}`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
