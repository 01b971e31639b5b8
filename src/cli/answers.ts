import { AnswerQuestions } from '../api/questions';
import { describeIssues } from '../api/issues';
import { UsageError } from './common';

/**
 * Answers in Markdown, in the shape `mission status` prints them: one list item per question at the start of a line,
 * `- q1: the answer` (the id may be bold); indented lines below an item continue its answer. Everything else
 * (headings, the questions, code blocks) is ignored, so the whole status can be saved and edited. A blank answer
 * takes the question's default.
 */
export function parseAnswersMarkdown(text: string): Record<string, string> {
  const answers: Record<string, string> = {};
  const lineOf: Record<string, number> = {};
  let current: string | undefined;
  let fenced = false;
  text.split(/\r?\n/).forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      current = undefined;
      return;
    }
    if (fenced) return;
    const item = /^[-*+]\s+(?:\*\*)?([A-Za-z0-9][A-Za-z0-9_-]*)(?:\*\*)?\s*:\s*(.*)$/.exec(line);
    if (item) {
      const id = item[1]!;
      if (lineOf[id] !== undefined) throw new UsageError(`${id} is answered twice (lines ${lineOf[id]} and ${index + 1}); keep one`);
      lineOf[id] = index + 1;
      answers[id] = (item[2] ?? '').trim();
      current = id;
      return;
    }
    if (current && /^\s{2,}\S/.test(line)) answers[current] = `${answers[current]}\n${line.trim()}`.trim();
    else current = undefined;
  });
  return answers;
}

/**
 * An answers file: JSON (the decision's payload `{ "answers": {...}, "useDefaults": true }`, or just `{ "q1": "..." }`)
 * or Markdown (parseAnswersMarkdown). Errors name the file and say what it should hold.
 */
export function parseAnswersFile(text: string, file: string): Pick<AnswerQuestions, 'answers' | 'useDefaults'> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (err) {
      throw new UsageError(`${file} is not valid JSON (${(err as Error).message}); write { "answers": { "q1": "..." } } or Markdown lines "- q1: ..."`);
    }
    const payload = json && typeof json === 'object' && ('answers' in json || 'useDefaults' in json) ? json : { answers: json };
    const parsed = AnswerQuestions.pick({ answers: true, useDefaults: true }).safeParse(payload);
    if (!parsed.success) throw new UsageError(`${file}: ${describeIssues(parsed.error).join('; ')}`);
    return parsed.data;
  }
  const answers = parseAnswersMarkdown(text);
  if (!Object.keys(answers).length) throw new UsageError(`${file} holds no answers: write one line per question, "- q1: your answer" (as "mission status" prints them)`);
  return { answers };
}

/** `--answer q1=TEXT`: the id, then everything after the first `=`. */
export function parseAnswerFlag(flag: string): [string, string] {
  const at = flag.indexOf('=');
  if (at < 1) throw new UsageError(`--answer must be ID=TEXT (e.g. --answer q1="use SQLite"), not "${flag}"`);
  return [flag.slice(0, at).trim(), flag.slice(at + 1)];
}
