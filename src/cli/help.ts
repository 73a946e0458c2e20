import { COMMANDS, findCommand, findGroup, OPTION_VALUES, subcommandNames, type Command, type Group } from './commands.ts';
import { usageError, type OptionName } from './args.ts';

export const EXIT_CODES = `exit codes:
  0  success
  1  the command ran and failed, or found a problem (a refused key or token, a broken image, a refused import)
  2  usage or configuration error (an unknown command or option, a bad or missing argument,
     a file named on the command line that cannot be read, an invalid configuration)`;

/** Two columns, the first padded to its widest entry. */
function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n');
}

function overview(): string {
  const listed = new Set<string>();
  const rows: [string, string][] = [];
  for (const c of COMMANDS) {
    const group = findGroup(c.name.split(' ')[0]);
    if (group && !listed.has(group.name)) {
      listed.add(group.name);
      rows.push([`${group.name} ${subcommandNames(group.name).join('|')}`, group.summary]);
    } else if (!group) rows.push([c.args.name ? `${c.name} ${c.args.name}` : c.name, c.summary]);
  }
  return `usage: acihost COMMAND [options]

${table(rows)}

Commands that read the configuration take --config FILE; ACIHOST_* environment variables
override it. acihost --version prints the version.

${EXIT_CODES}

\`acihost help COMMAND\` (or acihost COMMAND --help) shows a command's options and an example.`;
}

const optionLabel = (name: OptionName) => `--${name}${OPTION_VALUES[name] ? ` ${OPTION_VALUES[name]}` : ''}`;

function commandHelp(c: Command): string {
  const rows: [string, string][] = Object.entries(c.options).map(([name, what]) => [optionLabel(name as OptionName), what]);
  if (c.config) rows.push([optionLabel('config'), 'the configuration file; ACIHOST_* environment variables override it']);
  rows.push(['-h, --help', 'show this help']);
  return `acihost ${c.name}: ${c.summary}

usage: acihost ${c.usage}

options:
${table(rows)}
${c.notes ? `\n${c.notes}\n` : ''}
example:
  ${c.example}`;
}

function groupHelp(g: Group): string {
  const rows = COMMANDS.filter((c) => c.name.startsWith(`${g.name} `)).map((c): [string, string] => [c.usage, c.summary]);
  return `acihost ${g.name}: ${g.summary}

usage: acihost ${g.name} SUBCOMMAND [options]

${table(rows)}

\`acihost help ${g.name} SUBCOMMAND\` shows a subcommand's options and an example.`;
}

/** The help for `words` (nothing: the overview; a group: its subcommands; a command: its usage). */
export function helpText(words: string[]): string {
  if (words.length === 0) return overview();
  const group = findGroup(words[0]);
  if (group && words.length === 1) return groupHelp(group);
  try {
    return commandHelp(findCommand(words).command);
  } catch (e) {
    // The words name no command: point at the help that lists what exists.
    throw usageError(`no help for ${JSON.stringify(words.join(' '))}: ${(e as Error).message}`, group ? group.name : '');
  }
}

export async function helpCommand(args: string[]): Promise<number> {
  process.stdout.write(helpText(args) + '\n');
  return 0;
}
