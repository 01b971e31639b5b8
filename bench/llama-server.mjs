#!/usr/bin/env node
// A small OpenAI-compatible server for a local GGUF model, on CPU, through node-llama-cpp: enough of
// /v1/chat/completions for Mission (messages, tools, response_format, usage) to run `npm run bench:real-model`
// without a model service. Not part of Mission: node-llama-cpp is installed on first use into a cache folder
// (MISSION_LLAMA_DIR, default ~/.cache/mission/llama), never into the project's dependencies.
//
//   node bench/llama-server.mjs --model /root/models/qwen2.5-coder-0.5b-instruct.gguf [--port 8089] [--ctx 16384] [--threads 1]
//   OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=local MISSION_MODEL=local npm run bench:real-model
//
// The prompt is rendered with Qwen2.5's ChatML template (tools in <tools>, calls in <tool_call> tags), as
// llama.cpp's server renders it for Qwen models; <tool_call> blocks in the reply become `tool_calls`, the
// rest stays content. response_format json_schema / json_object become a grammar (like llama.cpp's server).
// One request at a time (one context sequence); others wait their turn.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const NODE_LLAMA_CPP = 'node-llama-cpp@3.22.1';

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string', default: process.env.LLAMA_MODEL },
    name: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: process.env.LLAMA_PORT ?? '8089' },
    ctx: { type: 'string', default: process.env.LLAMA_CTX ?? '16384' },
    // One thread is the default: on a machine shared with other work, llama.cpp's threads spin-wait on
    // each other, and 2 threads on 2 busy cores measured 10x slower than 1 (0.8 against 8 tokens/s).
    threads: { type: 'string', default: process.env.LLAMA_THREADS ?? '1' },
    // llama.cpp's server has no cap by default; a cap keeps a model repeating itself from filling the context
    // at a few tokens a second (past Mission's 9-minute request timeout). A plan of bounded lists fits in 2048.
    'max-tokens': { type: 'string', default: process.env.LLAMA_MAX_TOKENS ?? '2048' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help || !opts.model) {
  console.error('usage: node bench/llama-server.mjs --model FILE.gguf [--name ID] [--port 8089] [--ctx 16384] [--threads 1] [--max-tokens 2048]');
  process.exit(opts.help ? 0 : 2);
}
if (!fs.existsSync(opts.model)) {
  console.error(`llama-server: no model file at ${opts.model} (--model or LLAMA_MODEL: a GGUF file)`);
  process.exit(2);
}
const modelId = opts.name ?? path.basename(opts.model).replace(/\.gguf$/i, '');
const ctxSize = Number(opts.ctx);

const { getLlama, LlamaCompletion } = await loadNodeLlamaCpp();
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: opts.model });
const context = await model.createContext({ contextSize: ctxSize, threads: Number(opts.threads) });
const sequence = context.getSequence();
const completion = new LlamaCompletion({ contextSequence: sequence });

/** Installs node-llama-cpp into the cache folder on first use (the prebuilt CPU binary comes with it). */
async function loadNodeLlamaCpp() {
  const dir = process.env.MISSION_LLAMA_DIR ?? path.join(os.homedir(), '.cache', 'mission', 'llama');
  const require = createRequire(path.join(dir, 'package.json'));
  let entry;
  try {
    entry = require.resolve('node-llama-cpp');
  } catch {
    console.error(`llama-server: installing ${NODE_LLAMA_CPP} into ${dir} (once)`);
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(dir, 'package.json'))) fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"mission-llama-cache","private":true}\n');
    // --ignore-scripts: its postinstall would try to download or build llama.cpp; the prebuilt binary is a package.
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', NODE_LLAMA_CPP], { cwd: dir, stdio: 'inherit' });
    entry = require.resolve('node-llama-cpp');
  }
  return import(pathToFileURL(entry).href);
}

// ---- prompt rendering (Qwen2.5 chat template) ----

const text = (content) =>
  typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => (typeof p === 'string' ? p : (p.text ?? ''))).join('') : '';

function toolsBlock(tools) {
  const lines = tools.map((t) => JSON.stringify(t));
  return [
    '# Tools',
    '',
    'You may call one or more functions to assist with the user query.',
    '',
    'You are provided with function signatures within <tools></tools> XML tags:',
    '<tools>',
    ...lines,
    '</tools>',
    '',
    'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:',
    '<tool_call>',
    '{"name": <function-name>, "arguments": <args-json-object>}',
    '</tool_call>',
  ].join('\n');
}

export function renderPrompt(messages, tools) {
  const out = [];
  let rest = messages;
  const first = messages[0];
  const system = first?.role === 'system' || first?.role === 'developer' ? text(first.content) : 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';
  if (first?.role === 'system' || first?.role === 'developer') rest = messages.slice(1);
  out.push(`<|im_start|>system\n${tools?.length ? `${system}\n\n${toolsBlock(tools)}` : system}<|im_end|>\n`);
  for (let i = 0; i < rest.length; i++) {
    const m = rest[i];
    if (m.role === 'tool') {
      // Consecutive tool results go into one user turn, as Qwen's template does.
      const parts = [];
      while (i < rest.length && rest[i].role === 'tool') parts.push(`<tool_response>\n${text(rest[i++].content)}\n</tool_response>`);
      i--;
      out.push(`<|im_start|>user\n${parts.join('\n')}<|im_end|>\n`);
    } else if (m.role === 'assistant') {
      const calls = (m.tool_calls ?? []).map((c) => `<tool_call>\n{"name": "${c.function.name}", "arguments": ${c.function.arguments || '{}'}}\n</tool_call>`);
      const body = [text(m.content), ...calls].filter(Boolean).join('\n');
      out.push(`<|im_start|>assistant\n${body}<|im_end|>\n`);
    } else {
      out.push(`<|im_start|>${m.role === 'system' || m.role === 'developer' ? 'system' : 'user'}\n${text(m.content)}<|im_end|>\n`);
    }
  }
  out.push('<|im_start|>assistant\n');
  return out.join('');
}

/** <tool_call> blocks become tool calls (as llama.cpp's server parses Qwen/Hermes output); the rest is content. */
export function parseReply(reply, tools) {
  const calls = [];
  const content = reply
    .replace(/<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g, (whole, body) => {
      try {
        const call = JSON.parse(body);
        if (tools?.length && typeof call?.name === 'string') {
          const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {});
          calls.push({ id: `call_${Date.now().toString(36)}_${calls.length}`, type: 'function', function: { name: call.name, arguments: args } });
          return '';
        }
      } catch {
        // not JSON: left in the content, as the model wrote it
      }
      return whole;
    })
    .trim();
  return { content: content || null, ...(calls.length ? { tool_calls: calls } : {}) };
}

// ---- HTTP ----

let queue = Promise.resolve();
const serially = (fn) => {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
};

async function chat(body) {
  if (body.stream) return [400, error('streaming is not supported by this server; send stream: false', 'invalid_request_error')];
  let grammar;
  const format = body.response_format;
  try {
    if (format?.type === 'json_schema') grammar = await llama.createGrammarForJsonSchema(format.json_schema.schema);
    else if (format?.type === 'json_object') grammar = await llama.getGrammarFor('json');
  } catch (err) {
    return [400, error(`response_format json_schema could not become a grammar: ${err.message}`, 'invalid_request_error')];
  }
  const tools = body.tool_choice === 'none' ? [] : (body.tools ?? []);
  const prompt = renderPrompt(body.messages ?? [], tools);
  const tokens = model.tokenize(prompt, true);
  const wanted = Number(body.max_completion_tokens ?? body.max_tokens ?? opts['max-tokens']);
  if (tokens.length + 16 > ctxSize) {
    // llama.cpp's own wording and type, so clients that know llama.cpp recognise it.
    return [400, { error: { code: 400, type: 'exceed_context_size_error', message: `the request exceeds the available context size (${ctxSize} tokens), try increasing it`, n_prompt_tokens: tokens.length, n_ctx: ctxSize } }];
  }
  const maxTokens = Math.min(wanted, ctxSize - tokens.length);
  const started = Date.now();
  let completionTokens = 0;
  const meta = await completion.generateCompletionWithMeta(tokens, {
    maxTokens,
    onToken: (generated) => {
      completionTokens += generated.length;
    },
    grammar,
    temperature: body.temperature ?? 0.2,
    seed: body.seed ?? 1,
    customStopTriggers: ['<|im_end|>', '<|endoftext|>'],
  });
  const reply = meta.response.replace(/<\|im_end\|>|<\|endoftext\|>/g, '');
  const message = grammar ? { content: reply, tool_calls: undefined } : parseReply(reply, tools);
  const finish = meta.metadata.stopReason === 'maxTokens' ? 'length' : message.tool_calls ? 'tool_calls' : 'stop';
  const ms = Date.now() - started;
  console.error(`llama-server: ${tokens.length} prompt + ${completionTokens} completion tokens in ${(ms / 1000).toFixed(1)} s (${finish}${format ? `, ${format.type}` : ''}${tools.length ? `, ${tools.length} tools` : ''})`);
  return [
    200,
    {
      id: `chatcmpl-${Date.now().toString(36)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? modelId,
      choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
      usage: { prompt_tokens: tokens.length, completion_tokens: completionTokens, total_tokens: tokens.length + completionTokens },
    },
  ];
}

const error = (message, type) => ({ error: { message, type } });

const server = http.createServer((req, res) => {
  const send = ([status, payload]) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  };
  const url = (req.url ?? '').replace(/\/+$/, '');
  if (req.method === 'GET' && (url === '/v1/models' || url === '/models')) {
    return send([200, { object: 'list', data: [{ id: modelId, object: 'model', owned_by: 'local' }] }]);
  }
  if (req.method === 'GET' && url === '/health') return send([200, { status: 'ok' }]);
  if (req.method !== 'POST' || !/\/(v1\/)?chat\/completions$/.test(url)) return send([404, error(`no route ${req.method} ${req.url}`, 'not_found')]);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send([400, error('the body is not JSON', 'invalid_request_error')]);
    }
    serially(() => chat(body)).then(send, (err) => send([500, error(`generation failed: ${err.message}`, 'server_error')]));
  });
});
server.listen(Number(opts.port), opts.host, () => {
  console.error(`llama-server: ${modelId} (${path.basename(opts.model)}, context ${ctxSize}, ${opts.threads} thread(s)) on http://${opts.host}:${opts.port}/v1`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
