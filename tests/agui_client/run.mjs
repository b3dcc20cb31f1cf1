// Runs one AG-UI run with the official client's HttpAgent and prints what it saw as JSON.
// Usage: node run.mjs <url> <token> <threadId> <runId> <message>
import { HttpAgent } from "@ag-ui/client";

const [url, token, threadId, runId, message] = process.argv.slice(2);
const agent = new HttpAgent({
  url,
  headers: { Authorization: `Bearer ${token}` },
  threadId,
});
agent.addMessage({ id: "user-1", role: "user", content: message });
const events = [];
let outcome = null;
const { result, newMessages } = await agent.runAgent(
  { runId },
  {
    onEvent: ({ event }) => {
      events.push(event);
    },
    onRunFinishedEvent: (params) => {
      outcome = params.outcome;
    },
    onRunErrorEvent: ({ event }) => {
      outcome = `error: ${event.message}`;
    },
  },
);
process.stdout.write(
  JSON.stringify({ events, outcome, result: result ?? null, newMessages, messages: agent.messages }),
);
