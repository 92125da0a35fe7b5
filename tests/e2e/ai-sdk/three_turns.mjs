// Three turns of one conversation through the gateway with the AI SDK, as its users write it:
// each turn passes the earlier messages back (`response.messages`). With the default OpenAI model
// (the Responses API, which assumes `store`) the SDK sends its earlier answers back as
// `item_reference`s. The Anthropic provider speaks the Messages API.
// Usage: node three_turns.mjs BASE_URL MODEL responses|chat|anthropic
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";

const [baseURL, modelId, api] = process.argv.slice(2);
const apiKey = "client-key-not-a-pool-key";
const openai = createOpenAI({ baseURL, apiKey });
const model = api === "anthropic" ? createAnthropic({ baseURL, apiKey })(modelId)
  : api === "chat" ? openai.chat(modelId) : openai(modelId);
const messages = [];
const answers = [];
for (const question of ["first question: name a colour", "second question: and a fruit", "third question: and a tree"]) {
  messages.push({ role: "user", content: question });
  const result = await generateText({ model, messages, maxRetries: 0 });
  answers.push(result.text);
  messages.push(...result.response.messages);
}
console.log(JSON.stringify({ answers }));
