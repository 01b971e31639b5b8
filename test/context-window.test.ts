import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { compactedMessage, filesTouched, fitTask, renderTranscript, splitForCompaction } from '../src/activities/compaction';
import {
  contextWindowFor,
  DEFAULT_CONTEXT_WINDOW,
  estimateTokens,
  isContextOverflow,
  learnedWindow,
  parseContextWindowSetting,
  windowFromMessage,
} from '../src/activities/context-window';
import { cutOutput, outputLimitChars, savedOutputRead } from '../src/activities/tool-output';
import { parseTextToolCalls } from '../src/activities/text-tool-calls';
import { nextFormat, planJsonSchema } from '../src/activities/plan-format';
import { MISSION_FATAL, missionFailure } from '../src/api/errors';

const TOOLS = ['read_file', 'write_file', 'edit_file', 'list_files', 'search', 'run_command', 'finish'];

describe('context windows', () => {
  it('knows common models, takes configured ones first, and assumes 8k for unknown ones', () => {
    expect(contextWindowFor('gpt-4o-mini')).toBe(128_000);
    expect(contextWindowFor('gpt-4.1')).toBeGreaterThan(1_000_000);
    expect(contextWindowFor('o4-mini')).toBe(200_000);
    expect(contextWindowFor('o3')).toBe(200_000);
    expect(contextWindowFor('gpt-5-mini')).toBeGreaterThan(200_000);
    expect(contextWindowFor('Qwen2.5-Coder-1.5B-Instruct')).toBe(32_768);
    expect(contextWindowFor('llama3.1:8b')).toBe(131_072);
    expect(contextWindowFor('llama3')).toBe(8_192);
    expect(contextWindowFor('my-finetune')).toBe(DEFAULT_CONTEXT_WINDOW);
    expect(DEFAULT_CONTEXT_WINDOW).toBe(8192);
    expect(contextWindowFor('Qwen2.5-Coder-1.5B-Instruct', { 'qwen2.5-coder-1.5b-instruct': 4096 })).toBe(4096);
    expect(contextWindowFor('gpt-4o', { '*': 16_000 })).toBe(16_000);
  });

  it('reads MISSION_CONTEXT_WINDOW as one number or model=tokens pairs, and names a bad part', () => {
    expect(parseContextWindowSetting('16384')).toEqual({ '*': 16384 });
    expect(parseContextWindowSetting('qwen2.5-coder:1.5b=4096, gpt-4o=128000')).toEqual({ 'qwen2.5-coder:1.5b': 4096, 'gpt-4o': 128000 });
    expect(parseContextWindowSetting(undefined)).toEqual({});
    expect(() => parseContextWindowSetting('qwen=lots')).toThrow(/"qwen=lots" must give a whole number/);
    expect(() => parseContextWindowSetting('qwen')).toThrow(/"qwen" is not model=tokens/);
  });

  it("recognises the context overflow errors of OpenAI, vLLM, llama.cpp and Ollama, and the window they state", () => {
    expect(isContextOverflow('context_length_exceeded', 'whatever')).toBe(true);
    const vllm = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).";
    expect(isContextOverflow(undefined, vllm)).toBe(true);
    expect(windowFromMessage(vllm)).toBe(4096);
    const llamacpp = 'request (5012 tokens) exceeds the available context size (4096 tokens), try increasing it';
    expect(isContextOverflow('exceed_context_size_error', llamacpp)).toBe(true);
    expect(isContextOverflow(undefined, llamacpp)).toBe(true);
    expect(windowFromMessage(llamacpp)).toBe(4096);
    expect(isContextOverflow(undefined, 'the input length exceeds the context length')).toBe(true);
    expect(isContextOverflow(undefined, "Invalid value for 'temperature'")).toBe(false);
  });

  it("keeps below the window a server states, scaled by how far Mission's estimate was from the server's count", () => {
    const openai = "This model's maximum context length is 6000 tokens. However, your messages resulted in 8000 tokens.";
    expect(learnedWindow(32_000, openai, 6000)).toBe(4500); // the server counts more than a token per four characters
    expect(learnedWindow(32_000, 'request (5012 tokens) exceeds the available context size (4096 tokens)', 5012)).toBe(4096);
    expect(learnedWindow(32_000, 'prompt too long', 10_000)).toBe(9000);
    expect(learnedWindow(4000, openai, 12_000)).toBe(4000);
  });

  it('keeps only errors that fail every call mission-fatal', () => {
    expect(MISSION_FATAL).toEqual(expect.arrayContaining(['MODEL_AUTH', 'MODEL_NOT_FOUND']));
    expect(MISSION_FATAL).not.toContain('MODEL_BAD_REQUEST');
    expect(MISSION_FATAL).not.toContain('MODEL_CONTEXT_EXCEEDED');
  });

  it('estimates a token per four characters of content and tool-call arguments', () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'user', content: 'x'.repeat(400) },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'read_file', arguments: 'y'.repeat(391) } }] },
    ];
    expect(estimateTokens(messages)).toBe(100 + 100 + 8);
  });
});

describe('compaction', () => {
  const call = (id: string, name: string, args: unknown): ChatCompletionMessageParam => ({
    role: 'assistant',
    content: null,
    tool_calls: [{ id, type: 'function', function: { name, arguments: JSON.stringify(args) } }],
  });
  const answer = (id: string, content: string): ChatCompletionMessageParam => ({ role: 'tool', tool_call_id: id, content });
  const conversation: ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You are an agent.' },
    { role: 'user', content: 'Role: feature f\nDo it.' },
    call('a', 'write_file', { path: 'src/a.js', content: 'a' }),
    answer('a', 'ok'),
    call('b', 'edit_file', { path: 'src/b.js', old_string: 'x', new_string: 'y' }),
    answer('b', 'ok'),
    call('c', 'read_file', { path: 'big.txt' }),
    answer('c', 'z'.repeat(5000)),
    call('d', 'read_file', { path: 'big.txt' }),
    answer('d', 'z'.repeat(5000)),
  ];

  it('keeps the system message, the task and the last turns; the older ones are what the summary replaces', () => {
    const split = splitForCompaction(conversation, 2)!;
    expect(split.head).toEqual(conversation.slice(0, 2));
    expect(split.older).toEqual(conversation.slice(2, 6));
    expect(split.recent).toEqual(conversation.slice(6));
    expect(splitForCompaction(conversation, 4)).toBeUndefined();
    expect(splitForCompaction(conversation.slice(0, 4), 1)).toBeUndefined();
  });

  it('lists the files written or edited, and tells the model it was compacted', () => {
    expect(filesTouched(conversation, ['README.md'])).toEqual(['README.md', 'src/a.js', 'src/b.js']);
    const text = String(compactedMessage('Did a and b.', 4, ['src/a.js'], 2).content);
    expect(text).toMatch(/^\[Mission compacted this conversation \(2 times\): 4 earlier messages were replaced by the summary below/);
    expect(text).toContain('Did a and b.');
    expect(text).toContain('Files you have written or edited: src/a.js');
  });

  it('clips a task too long for the window, keeping its role line and its end, never below 1,000 characters', () => {
    const task = `Role: feature f\nDo it.\n${'listing line\n'.repeat(2000)}The end.`;
    const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: 'sys' }, { role: 'user', content: task }];
    const fitted = fitTask(messages, 2000);
    const text = String(fitted[1]!.content);
    expect(text.length).toBeLessThanOrEqual(2000 * 0.5 * 4 + 200);
    expect(text).toMatch(/^Role: feature f\nDo it\.\n/);
    expect(text).toMatch(/characters left out to fit the model's context window[\s\S]*The end\.$/);
    expect(fitTask(messages, 100_000)).toBe(messages);
    expect(String(fitTask(messages, 10)[1]!.content).length).toBeLessThan(1200);
  });

  it('renders older turns for the summariser within a budget, clipping tool results first', () => {
    const full = renderTranscript(conversation.slice(2), 100_000);
    expect(full).toContain('called write_file {"path":"src/a.js"');
    const small = renderTranscript(conversation.slice(2), 1500);
    expect(small.length).toBeLessThanOrEqual(1500);
    expect(small).toContain('called read_file');
  });
});

describe('large tool outputs', () => {
  it('are cut to head and tail with a note naming the saved file, which read_file can page through', () => {
    expect(outputLimitChars(6000)).toBe(2400);
    expect(outputLimitChars(1_000_000)).toBe(24_000);
    const output = Array.from({ length: 400 }, (_, i) => `line ${i + 1}`).join('\n');
    const cut = cutOutput(output, 1000, '@output/call_7.txt');
    expect(cut.length).toBeLessThan(1400);
    expect(cut.startsWith('line 1\nline 2\n')).toBe(true);
    expect(cut.endsWith('line 400')).toBe(true);
    expect(cut).toContain('read_file {"path": "@output/call_7.txt"');
    expect(savedOutputRead('read_file', '{"path": "@output/call_7.txt", "offset": 100}')).toBe('{"path":"call_7.txt","offset":100}');
    expect(savedOutputRead('read_file', '{"path": "src/a.js"}')).toBeUndefined();
    expect(savedOutputRead('write_file', '{"path": "@output/call_7.txt"}')).toBeUndefined();
  });
});

describe('tool calls written as text', () => {
  it('takes bare, fenced, tagged and listed JSON calls naming offered tools', () => {
    expect(parseTextToolCalls('{"name": "read_file", "arguments": {"path": "a.js"}}', TOOLS)).toEqual([{ name: 'read_file', arguments: '{"path":"a.js"}' }]);
    expect(parseTextToolCalls('I will write it.\n```json\n{"tool": "write_file", "parameters": {"path": "b", "content": "x"}}\n```', TOOLS)).toEqual([
      { name: 'write_file', arguments: '{"path":"b","content":"x"}' },
    ]);
    expect(parseTextToolCalls('<tool_call>\n{"name": "finish", "arguments": "{\\"summary\\": \\"s\\", \\"status\\": \\"done\\"}"}\n</tool_call>', TOOLS)).toEqual([
      { name: 'finish', arguments: '{"summary": "s", "status": "done"}' },
    ]);
    expect(
      parseTextToolCalls('[{"function": {"name": "list_files", "arguments": {}}}, {"name": "search", "arguments": {"pattern": "x"}}]', TOOLS),
    ).toEqual([
      { name: 'list_files', arguments: '{}' },
      { name: 'search', arguments: '{"pattern":"x"}' },
    ]);
  });

  it('leaves text alone when it is not a call of an offered tool', () => {
    expect(parseTextToolCalls('{"name": "delete_everything", "arguments": {}}', TOOLS)).toEqual([]);
    expect(parseTextToolCalls('The config is {"name": "app"}.', TOOLS)).toEqual([]);
    expect(parseTextToolCalls('All done, the tests pass.', TOOLS)).toEqual([]);
    expect(parseTextToolCalls('```json\n{"name": "read_file", "arguments": {"path": \n```', TOOLS)).toEqual([]);
  });
});

describe('plan format probe', () => {
  const rejected = (message: string) => missionFailure('MODEL_BAD_REQUEST', message);
  it('steps down only on errors about the response format', () => {
    expect(nextFormat(rejected("Invalid schema for response_format 'mission_plan': 'maxItems' is not permitted"), 'json_schema')).toBe('json_schema_nolimits');
    expect(nextFormat(rejected("response_format: type 'json_schema' is not supported"), 'json_schema')).toBe('json_object');
    expect(nextFormat(rejected("response_format: type 'json_schema' is not supported"), 'json_schema_nolimits')).toBe('json_object');
    expect(nextFormat(rejected("'response_format' of type 'json_object' is not supported with this model"), 'json_object')).toBe('text');
    expect(nextFormat(rejected('bad schema'), 'json_schema')).toBeUndefined();
    expect(nextFormat(missionFailure('MODEL_AUTH', 'response_format'), 'json_schema')).toBeUndefined();
    expect(nextFormat(rejected('response_format unsupported'), 'text')).toBeUndefined();
  });
});

describe('plan schema', () => {
  it('carries the limits as maxItems', () => {
    const schema = planJsonSchema({ maxMilestones: 1, maxFeaturesPerMilestone: 3 }) as {
      properties: { milestones: { maxItems: number; minItems: number; items: { properties: { features: { maxItems: number } } } } };
    };
    expect(schema.properties.milestones).toMatchObject({ minItems: 1, maxItems: 1 });
    expect(schema.properties.milestones.items.properties.features.maxItems).toBe(3);
  });
});
