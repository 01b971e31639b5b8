import { readFileSync } from 'node:fs';
import { answerQuestionsSignal, answerQuestionsUpdate } from '../../api/messages';
import type { AnswerQuestions } from '../../api/questions';
import { parseAnswerFlag, parseAnswersFile } from '../answers';
import { missionCommand, str, UsageError, type Values } from '../common';
import { decide } from '../decision';

const USAGE = 'mission answer MISSION_ID [--answer ID=TEXT]... [--file answers.md|answers.json] [--defaults] [--round N] [--by NAME]';

/** The decision's payload from the flags: the file's answers, then each --answer over them; --defaults for the rest. */
export function answersPayload(v: Values, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): AnswerQuestions {
  const file = str(v.file);
  let fromFile: Pick<AnswerQuestions, 'answers' | 'useDefaults'> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      throw new UsageError(`--file ${file} cannot be read (${(err as Error).message})`);
    }
    fromFile = parseAnswersFile(text, file);
  }
  const flags = (v.answer as unknown as string[] | undefined) ?? [];
  const answers = { ...fromFile.answers, ...Object.fromEntries(flags.map(parseAnswerFlag)) };
  const useDefaults = v.defaults === true || fromFile.useDefaults === true;
  if (!Object.keys(answers).length && !useDefaults) throw new UsageError(`give answers (--answer q1=TEXT, --file FILE) or --defaults\nusage: ${USAGE}`);
  return {
    ...(Object.keys(answers).length ? { answers } : {}),
    ...(useDefaults ? { useDefaults } : {}),
    ...(v.round !== undefined ? { round: roundOf(str(v.round)!) } : {}),
    ...(str(v.by) ? { answeredBy: str(v.by) } : {}),
  };
}

function roundOf(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--round must be a round number (1, 2, ...), not "${text}"`);
  return n;
}

export const answer = missionCommand(
  {
    summary: 'Answer the planner\'s questions (phase awaiting-answers); --defaults takes every default',
    usage: USAGE,
    options: { answer: { type: 'string', multiple: true }, file: { type: 'string' }, defaults: { type: 'boolean' }, round: { type: 'string' }, by: { type: 'string' } },
    check: (v) => void answersPayload(v),
  },
  (c, id, v) => decide(c, id, { name: 'answerQuestions', update: answerQuestionsUpdate, signal: answerQuestionsSignal, payload: { answeredBy: process.env.USER, ...answersPayload(v) } }),
);
