import { CancelledError } from "../errors.js";

/** A question `init` asks at a terminal, about one of the answers K. */
export interface Question<K extends string = string> {
  key: K;
  message: string;
  default: string;
  choices?: { value: string; description: string }[];
  /** Checks an answer as it is given; `so far` holds the flags and the earlier answers. */
  validate: (value: string, soFar: Partial<Record<K, string>>) => string | true;
}

export type Prompter<K extends string = string> = (questions: Question<K>[], given?: Partial<Record<K, string>>) => Promise<Partial<Record<K, string>>>;

/** Asks init's questions with inquirer; used only when a person is at a terminal. */
export const inquirerPrompter: Prompter = async (questions: Question[], given = {}) => {
  try {
    return await ask(questions, given);
  } catch (error) {
    // Ctrl-C at a prompt: a cancel, not a crash.
    if (error instanceof Error && error.name === "ExitPromptError") throw new CancelledError("SIGINT");
    throw error;
  }
};

async function ask(questions: Question[], given: Record<string, string | undefined> = {}): Promise<Record<string, string>> {
  const { default: inquirer } = await import("inquirer");
  const answers: Record<string, string> = {};
  for (const q of questions) {
    if (q.choices !== undefined) {
      const { value } = await inquirer.prompt<{ value: string }>([
        {
          type: "select",
          name: "value",
          message: q.message,
          default: q.default,
          choices: q.choices.map((c) => ({ name: `${c.value.padEnd(11)} ${c.description}`, value: c.value, short: c.value })),
        },
      ]);
      answers[q.key] = value;
    } else {
      const { value } = await inquirer.prompt<{ value: string }>([
        { type: "input", name: "value", message: q.message, default: q.default, validate: (v: string) => q.validate(v.trim(), { ...given, ...answers }) },
      ]);
      answers[q.key] = value.trim();
    }
  }
  return answers;
}
