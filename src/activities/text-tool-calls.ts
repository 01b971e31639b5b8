/**
 * Small local models behind llama.cpp or Ollama often write a tool call as JSON in the message text
 * instead of `tool_calls`: bare, in a ```json fence, or in Qwen's <tool_call> tags, shaped
 * {"name", "arguments"}, {"tool", "parameters"}, {"function": {"name", "arguments"}}, or a list of them; the
 * arguments may also stand beside the name ({"name": "write_file", "path": ...}), and a stray fence may trail.
 * finish's arguments alone ({"summary", "status"}) are taken as finish: nothing else has that shape.
 * When every call found names an offered tool, the text is taken as those calls; otherwise it stays text.
 */

export interface TextToolCall {
  name: string;
  /** JSON-encoded, as in `tool_calls[].function.arguments`. */
  arguments: string;
}

export function parseTextToolCalls(content: string | null | undefined, offered: readonly string[]): TextToolCall[] {
  if (!content?.trim()) return [];
  for (const candidate of candidates(content)) {
    let json: unknown;
    try {
      json = JSON.parse(candidate);
    } catch {
      continue;
    }
    const calls = (Array.isArray(json) ? json : [json]).map((value) => asCall(value) ?? namelessFinish(value, offered));
    if (calls.length > 0 && calls.every((c): c is TextToolCall => c !== undefined && offered.includes(c.name))) return calls;
  }
  return [];
}

/** JSON texts worth trying, most specific first: tagged or fenced blocks, then the whole reply. */
function candidates(content: string): string[] {
  const out: string[] = [];
  const tagged = [...content.matchAll(/<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g)].map((m) => m[1]!);
  if (tagged.length === 1) out.push(tagged[0]!);
  if (tagged.length > 1) out.push(`[${tagged.join(',')}]`);
  const fenced = [...content.matchAll(/```(?:json|tool_call|tool)?\s*\n?([\s\S]*?)```/g)].map((m) => m[1]!.trim());
  if (fenced.length === 1) out.push(fenced[0]!);
  if (fenced.length > 1) out.push(`[${fenced.join(',')}]`);
  const trimmed = content.trim();
  if (/^[[{]/.test(trimmed)) out.push(trimmed);
  // A sentence before the JSON ("I'll read the file: {...}") or a fence after it: from the first brace to the last.
  const first = trimmed.search(/[[{]/);
  const last = Math.max(trimmed.lastIndexOf('}'), trimmed.lastIndexOf(']'));
  if (first >= 0 && last > first && last + 1 - first < trimmed.length) out.push(trimmed.slice(first, last + 1));
  return out;
}

function asCall(value: unknown): TextToolCall | undefined {
  if (!isObject(value)) return undefined;
  const inner = isObject(value.function) ? value.function : value;
  const name = [inner.name, value.tool, value.tool_name, value.function_name].find((n): n is string => typeof n === 'string' && n.length > 0);
  if (!name) return undefined;
  const args = inner.arguments ?? value.arguments ?? value.parameters ?? value.args ?? value.input ?? besideName(value);
  if (typeof args === 'string') return { name, arguments: args };
  return isObject(args) ? { name, arguments: JSON.stringify(args) } : undefined;
}

/** {"summary": "...", "status": "done"} and nothing else: finish's arguments without its name. */
function namelessFinish(value: unknown, offered: readonly string[]): TextToolCall | undefined {
  if (!isObject(value) || !offered.includes('finish')) return undefined;
  const keys = Object.keys(value).sort().join(',');
  const valid = keys === 'status,summary' && typeof value.summary === 'string' && (value.status === 'done' || value.status === 'blocked');
  return valid ? { name: 'finish', arguments: JSON.stringify(value) } : undefined;
}

/** {"name": "write_file", "path": "a", "content": "x"}: every other field is an argument. */
function besideName(value: Record<string, unknown>): Record<string, unknown> {
  const { name: _name, tool: _tool, tool_name: _toolName, function_name: _functionName, type: _type, id: _id, ...rest } = value;
  return rest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
