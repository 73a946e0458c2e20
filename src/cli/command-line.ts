import { parseArgs } from 'node:util';
import { CLI_OPTIONS, usageError, type CliValues, type OptionName } from './args.ts';
import { OPTION_VALUES, type Command } from './commands.ts';

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];
type OptionToken = Extract<Token, { kind: 'option' }>;

export interface CommandLine {
  words: string[];
  values: CliValues;
  options: OptionToken[];
}

/**
 * Splits argv into words and options without judging them: which options are allowed
 * depends on the command the words name, and parseArgs' own errors name neither.
 */
export function readCommandLine(argv: string[]): CommandLine {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: CLI_OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const options = tokens.filter((t): t is OptionToken => t.kind === 'option');
  return { words: positionals, values: values as CliValues, options };
}

export const has = (line: CommandLine, name: OptionName) => line.options.some((t) => t.name === name);

const isKnown = (name: string): name is OptionName => Object.hasOwn(CLI_OPTIONS, name);

/** Throws a usage error naming the first option `command` does not take or gets wrong. */
export function checkOptions(command: Command, line: CommandLine): void {
  const seen = new Set<string>();
  for (const t of line.options) {
    const option = t.rawName;
    if (!isKnown(t.name)) throw usageError(`unknown option ${option} for ${command.name}`, command.name);
    // --config is taken everywhere so that an alias or wrapper can always pass it.
    if (t.name !== 'config' && t.name !== 'help' && command.options[t.name] === undefined)
      throw usageError(`${option} does not apply to ${command.name}`, command.name);
    const spec: { type: string; multiple?: boolean } = CLI_OPTIONS[t.name];
    if (spec.type === 'boolean' && t.inlineValue) throw usageError(`${option} takes no value`, command.name);
    // parseArgs takes the next word even when it is another option: --prefix --json
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))))
      throw usageError(`${option} needs a value (${option} ${OPTION_VALUES[t.name] ?? 'VALUE'})`, command.name);
    if (!spec.multiple && seen.has(t.name)) throw usageError(`${option} is given twice`, command.name);
    seen.add(t.name);
  }
}

/** Throws a usage error when the command gets too few or too many arguments. */
export function checkArgs(command: Command, args: string[]): void {
  const { min, max, name } = command.args;
  if (args.length < min) throw usageError(`${command.name} needs ${name ?? 'an argument'}`, command.name);
  if (args.length > max) {
    const extra = JSON.stringify(args[max]);
    if (max === 0) throw usageError(`${command.name} takes no arguments, got ${extra}`, command.name);
    const takes = max === 1 ? `one ${name ?? 'argument'}` : `at most ${max} arguments`;
    throw usageError(`${command.name} takes ${takes}, got ${extra} as well`, command.name);
  }
}
