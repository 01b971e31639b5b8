import type { Unresolved } from './outcome';

/** A sentence of the model's narrative that the facts contradict, and why. */
export interface NarrativeFlag {
  /** The sentence as written ('' when the flag is about what the narrative leaves out). */
  sentence: string;
  reason: string;
}

/**
 * Flags a narrative that claims success the facts deny. Plain sentence rules over the text the reader
 * sees, not a second model call, so it works with any model and answer format and is cheap to test:
 * - a sentence *claims success* when it has a success word ("done", "implemented", "verified", "passes",
 *   ...) and no qualifier ("not", "failed", "incomplete", "but", "remains", ...): a sentence that
 *   qualifies itself is never flagged, which keeps false alarms rare;
 * - such a claim contradicts the facts when something is unresolved and the sentence names an unresolved
 *   item (feature id or title, command, criterion) or speaks for the whole ("all", "every", "the mission
 *   was", "tests", "verified", "validation");
 * - a narrative that never acknowledges unresolved work (no qualified sentence, no unresolved item named
 *   other than in a success claim) is flagged once for leaving it out.
 * A missed contradiction costs little: the facts come first in the report and are never overridden.
 */
export function checkNarrative(narrative: string, unresolved: Unresolved[], titles: Record<string, string> = {}): NarrativeFlag[] {
  if (!unresolved.length || !narrative.trim()) return [];
  const flags: NarrativeFlag[] = [];
  let acknowledged = false;
  for (const sentence of sentencesOf(narrative)) {
    const named = unresolved.filter((u) => mentions(sentence, u.name) || (titles[u.name] !== undefined && mentions(sentence, titles[u.name]!)));
    const qualified = QUALIFIER.test(sentence);
    const claims = !qualified && SUCCESS.test(sentence);
    // Naming an unresolved item only acknowledges it when the sentence does not call it a success.
    if (qualified || (named.length && !claims)) acknowledged = true;
    if (!claims) continue;
    if (named.length) {
      flags.push({ sentence, reason: `claims success for ${named.map(describe).join(', ')}` });
    } else if (WHOLE.test(sentence)) {
      flags.push({ sentence, reason: `claims success for the whole, but ${unresolved.length} item(s) are unresolved: ${unresolved.map(describe).join(', ')}` });
    }
  }
  if (!acknowledged) {
    flags.push({ sentence: '', reason: `does not mention the ${unresolved.length} unresolved item(s): ${unresolved.map(describe).join(', ')}` });
  }
  return flags;
}

const SUCCESS =
  /\b(done|complete[sd]?|completion|finished|implemented|verified|validated|confirmed|pass(es|ed|ing)?|succeed(s|ed)?|success(ful|fully)?|works?|working|resolved|merged|fixed|green|delivered|achieved|accomplished|added|built|written|wrote|created|tested|covered)\b/i;
const QUALIFIER =
  /(\b(not|no|never|none|without|fail(s|ed|ing|ure|ures)?|incomplete|unfinished|blocked|unresolved|remains?|remaining|left|missing|pending|partial(ly)?|except|but|however|although|though|unmerged|conflicts?|yet|unable|cannot|issues?|problems?|errors?|broken|red|only|stopped)\b|n't\b)/i;
// "The mission was completed" speaks for the whole; "the mission added mul" does not.
const WHOLE = /\b(all|every|everything|entire|whole|fully|tests?|verified|validated|validation|checks?|requirements?|criteria|(mission|goal|task|work)\s+(is|was|has been|have been))\b/i;

function describe(u: Unresolved): string {
  const what = u.kind === 'feature' ? (u.state ?? 'unresolved') : u.kind === 'unmerged' ? 'not merged' : u.kind === 'validation' ? 'still failing' : 'criterion not met';
  return `${u.name} (${what})`;
}

function mentions(sentence: string, name: string): boolean {
  const text = name.trim();
  if (text.length < 2) return false;
  return new RegExp(`(^|[^\\w-])${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`, 'i').test(sentence);
}

/** Sentences and list items, without Markdown bullets. */
export function sentencesOf(text: string): string[] {
  return text
    .split(/\n+|(?<=[.!?])\s+(?=[A-Z0-9`"'*(])/)
    .map((s) => s.replace(/^\s*([-*+]|\d+[.)])\s+/, '').trim())
    .filter((s) => /\w/.test(s));
}
